import { parseArgs } from 'node:util';
import { startApp } from './app.js';

const { values } = parseArgs({
  options: {
    demo: { type: 'boolean', default: false },
    count: { type: 'string', default: '20000' },
    seed: { type: 'string', default: '42' },
  },
});
const count = Number(values.count);
if (!Number.isInteger(count) || count < 0) {
  console.error(`--count: ожидается целое неотрицательное число, получено «${values.count}»`);
  process.exit(2);
}

const app = await startApp({ demo: values.demo ? { count, seed: Number(values.seed) } : false });
console.log(`МЦУ Hub работает: ${app.url}  (карта: ${app.url}/, GraphQL: ${app.url}/graphql)`);

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, async () => {
    if (stopping) return;
    stopping = true;
    console.log('Остановка…');
    await app.close();
    process.exit(0);
  });
}

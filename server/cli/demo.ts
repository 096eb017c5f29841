import { parseArgs } from 'node:util';
import { runWithDatabase } from './database.js';
import { query } from '../db/sql.js';
import { loadDemo } from '../demo/load.js';
import { judgeAll } from '../quality/service.js';

/** npm run demo -- --count 100000 [--seed 42] — adds generated demo appeals to the configured database. */
const { values } = parseArgs({ options: { count: { type: 'string', default: '20000' }, seed: { type: 'string', default: '42' } } });
const count = Number(values.count);
if (!Number.isInteger(count) || count <= 0) {
  console.error(`--count: ожидается целое положительное число, получено «${values.count}»`);
  process.exit(2);
}
process.exit(
  await runWithDatabase(async ({ em, municipalityId: id }) => {
    const [{ n }] = await query<{ n: number }>(em, 'SELECT count(*)::int AS n FROM appeal WHERE municipality_id = ?', [id]);
    if (n > 0) {
      console.error(`В базе уже есть ${n} обращений; демонстрационные данные добавляются только в пустую базу.`);
      return 1;
    }
    const r = await loadDemo(em, id, { count, seed: Number(values.seed), onProgress: (done, total) => process.stdout.write(`\r${done} / ${total}`) });
    console.log(`\nЗагружено ${r.appeals} обращений, ${r.authors} авторов, ${r.events} событий за ${r.seconds.toFixed(1)} с`);
    const q = await judgeAll(em, id);
    console.log(`Оценка ответов: ${q.judged}, отписок — ${q.formal}, шаблонов — ${q.templates}, за ${q.seconds.toFixed(1)} с`);
  }),
);

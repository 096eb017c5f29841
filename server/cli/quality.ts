import { parseArgs } from 'node:util';
import { runWithDatabase } from './database.js';
import { judgeAll, retrain } from '../quality/service.js';
import { evaluate } from '../quality/evaluate.js';
import type { Figures } from '../quality/model.js';

/**
 * npm run quality:judge                — (re)judge every answered appeal (templates over the whole corpus; overrides kept)
 * npm run quality:retrain [-- --judge] — retrain on the training set + coordinators' overrides, print cross-validated figures
 * npm run quality:eval                 — figures of the shipped model on the hand-written evaluation set (no database)
 */
const [command, ...rest] = process.argv.slice(2);
const { values } = parseArgs({ args: rest, options: { judge: { type: 'boolean', default: false } } });
const fmt = (f: Figures | null) => (f ? `точность ${f.precision.toFixed(3)}, полнота ${f.recall.toFixed(3)}, F1 ${f.f1.toFixed(3)} (n = ${f.n})` : '—');

if (command === 'eval') {
  const e = evaluate();
  console.log(`Отписки на оценочном наборе: модель — ${fmt(e.model)}; базовое правило — ${fmt(e.rules)}`);
  console.log(`Перекрёстная проверка на обучающем наборе: ${fmt(e.cv)}`);
  for (const x of e.errors) console.log(`  ошибка: ожидалось ${x.label}, получено ${x.predicted} — ${x.note ?? ''}: ${x.answer}`);
  process.exit(0);
}
if (command !== 'judge' && command !== 'retrain') {
  console.error('Команда: judge | retrain [--judge] | eval');
  process.exit(2);
}
process.exit(await runWithDatabase(async ({ em, municipalityId }) => {
  if (command === 'judge') {
    const r = await judgeAll(em, municipalityId, (done, total) => process.stdout.write(`\r${done} / ${total}`));
    console.log(`\nОценено ответов: ${r.judged}, отписок: ${r.formal}; шаблонов: ${r.templates}, крупнейший — ${r.largestTemplate} обращений; ` +
      `решений кураторов сохранено: ${r.overriddenKept}; ${r.seconds.toFixed(1)} с`);
    return;
  }
  const r = await retrain(em, { municipalityId, actor: 'cli' }, { rejudge: values.judge });
  console.log(`Модель № ${r.modelId}: обучающих примеров ${r.trainCases}, решений кураторов ${r.overrides}`);
  console.log(`Перекрёстная проверка (5 частей): ${fmt(r.cv)}; базовое правило: ${fmt(r.rulesCv)}`);
  console.log(`Оценочный набор: ${fmt(r.evaluation)}`);
  console.log('Веса: ' + r.weights.map((w) => `${w.feature} ${w.weight}`).join(', '));
  if (r.rejudged) console.log(`Переоценено ответов: ${r.rejudged.judged}, отписок: ${r.rejudged.formal}`);
}, 'Оценка ответов'));

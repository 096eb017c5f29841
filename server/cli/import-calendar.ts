import fs from 'node:fs';
import path from 'node:path';
import { runWithDatabase } from './database.js';
import { parseCalendarXml, MAX_CALENDAR_BYTES } from '../worktime/calendar.js';
import { importCalendarYear } from '../worktime/store.js';

/** npm run import:calendar -- <calendar.xml> [more.xml …] — one year per file (xmlcalendar format); the same import as the importProductionCalendar mutation. */
const files = process.argv.slice(2);
if (!files.length) {
  console.error('Использование: npm run import:calendar -- <календарь.xml> [ещё.xml …]   (формат xmlcalendar: <calendar year="2027"><days><day d="ММ.ДД" t="1|2|3"/>…)');
  process.exit(2);
}
const years = files.map((f) => {
  try {
    if (fs.statSync(f).size > MAX_CALENDAR_BYTES) throw new Error(`больше ${MAX_CALENDAR_BYTES / 1_000_000} МБ`);
    return { file: f, cal: parseCalendarXml(fs.readFileSync(f, 'utf8'), path.basename(f)) };
  } catch (e) {
    console.error(`Ошибка (ничего не изменено): ${f}: ${(e as Error).message}`);
    process.exit(1);
  }
});
process.exit(
  await runWithDatabase(async ({ em, municipalityId }) => {
    for (const { file, cal } of years) {
      const r = await importCalendarYear(em, { municipalityId, actor: 'cli' }, cal, path.basename(file));
      console.log(`${r.year}: ${r.replaced ? 'заменён' : 'загружен'} — особых дней ${r.days} (выходных и праздников ${r.holidays}, сокращённых ${r.shortened}, рабочих выходных ${r.workingWeekends}); рабочих дней в году ${r.workingDays}`);
    }
  }, 'Ошибка (ничего не изменено)'),
);

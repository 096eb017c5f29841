/**
 * Features of an answer to an appeal, each one a reason a person can read (decree 2.2.6 «полнота»).
 * Pure: no I/O. The model (model.ts) weighs them; the template size comes from the corpus (service.ts).
 */
import { newStemmer } from 'snowball-stemmers';

export interface AnswerCase {
  appealText: string;
  appealAddress?: string | null;
  /** Keywords of the appeal's theme (theme.keywords); stems or words. */
  themeKeywords?: readonly string[];
  answerText: string;
}

/** A reason shown with a verdict: `effect` tells which way it pushes. */
export interface Reason {
  code: string;
  text: string;
  effect: 'FORMAL' | 'SUBSTANTIVE';
}

/** Feature names, in the order of the model's vector. */
export const FEATURES = [
  'noAction', 'noDate', 'noResponsible', 'noPlace', 'boilerplate', 'vaguePromise', 'forwarded', 'lawOnly',
  'refusal', 'groundedRefusal', 'guidance', 'workDone', 'doneWithDate', 'datedPromise', 'explanation', 'inspection', 'contact',
  'template', 'addressMismatch', 'topicMismatch', 'shortText', 'actionCount',
] as const;
export type FeatureName = (typeof FEATURES)[number];

export interface Extracted {
  /** The vector in FEATURES order (template = 0 until the corpus says otherwise). */
  x: number[];
  /** What was found, for the reasons' texts. */
  found: {
    boilerplate: string[];
    vague: string[];
    forwarded: string[];
    answerAddresses: string[];
    appealAddress: string | null;
    laws: string[];
  };
}

/** `\\b` of a pattern made to work for Cyrillic (JavaScript's \\b only knows ASCII letters). */
const WB = '(?:(?<=[а-яa-z0-9])(?![а-яa-z0-9])|(?<![а-яa-z0-9])(?=[а-яa-z0-9]))';
function ru(re: RegExp): RegExp {
  // Before a word character \\b is a start of word, otherwise an end (cheaper than the symmetric WB).
  const parts = re.source.split('\\b');
  let src = parts[0];
  for (let i = 1; i < parts.length; i++) {
    src += /^([а-яёa-z0-9]|\\d|\()/i.test(parts[i]) ? '(?<![а-яa-z0-9])' : '(?![а-яa-z0-9])';
    src += parts[i];
  }
  return new RegExp(src.split('\\w').join('[а-яa-z0-9_]'), re.flags);
}
void WB;

export const norm = (s: string) => s.toLowerCase().replace(/ё/g, 'е').replace(/[«»“”„]/g, '"').replace(/\s+/g, ' ');

// ---------------------------------------------------------------- lexicons (normalised: lower case, е for ё)

/** Phrases of a non-answer: politeness and procedure with no content. */
const BOILERPLATE: [RegExp, string][] = ([
  [/(ваше |данное |указанное )?обращение (было )?рассмотрено/, 'обращение рассмотрено'],
  [/рассмотрев ваше обращение/, 'рассмотрев ваше обращение'],
  [/сообщаем следующее/, 'сообщаем следующее'],
  [/(взят[оаы]?|поставлен[оаы]?|находится|находятся|остается) (на|под) (контрол|особ)/, 'взято на контроль'],
  [/принят[аоы]? к сведению/, 'принято к сведению'],
  [/(информация|сведения) (принята|приняты|учтена|учтены)/, 'информация принята'],
  [/благодарим (вас )?за (обращение|активную|неравнодуш|ваше)/, 'благодарим за обращение'],
  [/спасибо за (обращение|сигнал|информацию)/, 'спасибо за обращение'],
  [/доведен[оаы]? до сведения/, 'доведено до сведения'],
  [/(дан[оаы]?|даны) (соответствующ\w* )?поручени/, 'даны поручения'],
  [/(вопрос|ситуация) (изучается|прорабатывается|будет проработан)/, 'вопрос изучается'],
  [/в рамках (своей |их )?компетенции/, 'в рамках компетенции'],
  [/по компетенции/, 'по компетенции'],
  [/в установленном (законом )?порядке/, 'в установленном порядке'],
  [/проведена (разъяснительная|профилактическая) (работа|беседа)/, 'проведена разъяснительная работа'],
  [/(ответ|информация) будет (направлен|дан|предоставлен)/, 'ответ будет направлен'],
  [/ваше мнение (очень )?важно/, 'ваше мнение важно'],
  [/(обращение|заявка|сообщение) (зарегистрирован[оа]?|принят[оа]?)( и| ?,)? /, 'обращение зарегистрировано'],
  [/(вопрос|ситуация) (находится |остается )?на (постоянном |особом )?контроле/, 'вопрос на контроле'],
] as [RegExp, string][]).map(([re, l]) => [ru(re), l]);

/** Promises without a term. */
const VAGUE: [RegExp, string][] = ([
  [/(будут|будет) принят[ыа]? (необходимые |все )?мер/, 'будут приняты меры'],
  [/мер[ыа]? (будут|будет)? ?принят/, 'меры будут приняты'],
  [/(приняты|принимаются) (необходимые |все |исчерпывающие )?меры/, 'приняты меры'],
  [/в ближайшее время/, 'в ближайшее время'],
  [/в плановом порядке/, 'в плановом порядке'],
  [/по мере (поступления |выделения )?(финансирования|возможности|средств|необходимости)/, 'по мере финансирования'],
  [/при (наличии|выделении|поступлении) (бюджетных )?(финансирования|средств|возможности|денежных)/, 'при наличии финансирования'],
  [/(будет|будут) рассмотрен[аоы]? (вопрос|возможность)|рассмотреть возможность|рассмотрена возможность|рассмотрим возможность/, 'рассмотреть возможность'],
  [/при (формировании|планировании) (бюджета|работ|плана)/, 'при формировании бюджета'],
  [/в порядке (общей )?очередности/, 'в порядке очерёдности'],
  [/по возможности/, 'по возможности'],
  [/(в|на) (последующие|следующие|ближайшие) (годы|периоды)/, 'в последующие годы'],
  [/(будет|будут) (учтен|учтено|учтена|учтены)/, 'будет учтено'],
  [/(при|в случае) (благоприятных|погодных) услови/, 'при благоприятных условиях'],
  [/(вопрос|работы|ремонт) будет (решен|выполнен|проведен)(?![а-я]* (до|в срок|к) )(?![^.]*\d)/, 'будет решён (без срока)'],
  [/поэтапно/, 'поэтапно'],
  [/в (летний|весенний|осенний|зимний|весенне-летний) (период|сезон)(?! \d)/, 'в летний период'],
] as [RegExp, string][]).map(([re, l]) => [ru(re), l]);

const FORWARD = ru(/(направлен[оаы]?|перенаправлен[оаы]?|переадресован[оаы]?|передан[оаы]?|переслан[оаы]?) (в|для|на рассмотрение|по принадлежности|в адрес)[^.;]{0,80}/g);

const LAW = ru(/(\d+-фз|федеральн\w* закон\w*|ст\. ?\d+|стать\w* \d+|постановлени\w* (правительства|администрации)|санпин|гост|жилищн\w* кодекс\w*|жк рф|коап|градостроительн\w* кодекс|правил\w* (благоустройства|содержания|предоставления))/g);

/** Stems of concrete actions (any tense). */
const ACTION = ru(/(ремонт|заделан|почин|залата|вставлен|отремонтир|замен|установ|устран|вывез|вывоз|убран|уборк|очищ|очист|спил|обрез|покос|скош|засып|отсып|асфальт|грейдир|промыв|промыт|прочист|подключ|покрас|огражд|оградил|дезинфек|продезинф|откач|отлов|разметк|нанесен|перерасч|выплат|зачисл|демонтаж|демонтир|монтаж|смонтир|восстановл|восстановит|ликвидир|ликвидац|протокол|предписани|штраф|расписани|рейс|запущен|включен[оаы]? (в|освещ|в график|в реестр|в перечень)|закреплен|заварен|закрыт|отсыпан|подсыпк|прокладк|проложен|укреплен|вырубк|удален|опил|посажен|высажен|назначен[аоы]? (выплат|пособ|компенсац|субсид|доплат)|предоставлен|выдан[оаы]?|оформлен|записан|зачислен|переведен|приняты на обслуживание|заключен договор|вывешен|размещен|перенесен|добавлен|увеличен|сокращен интервал|заменен|выполнен|произведен|проведен[оаы]? (ремонт|замен|промыв|очистк|уборк|работ|дезинс|дератизац|обработк|опиловк|санитарн|покос|отлов|регулировк|перерасч))/g);

/** Inspections: weaker than an action, more than nothing. */
const INSPECTION = ru(/(обследован|осмотр|выезд|выехал|замер|проверк[аиу] (проведен|показал)|проведен[аоы]? проверк|отбор проб|комиссионн|рейд)/);

/** Completed work (past passive participles / past tense of doing). */
const DONE = ru(/(выполнен[оаы]?|проведен[оаы]?|устранен[оаы]?|заменен[оаы]?|установлен[оаы]?|отремонтирован[оаы]?|восстановлен[оаы]?|вывезен[оаы]?|убран[оаы]?|очищен[оаы]?|ликвидирован[оаы]?|демонтирован[оаы]?|спилен[оаы]?|скошен[оаы]?|засыпан[оаы]?|произведен[оаы]?|завершен[оаы]?|назначен[оаы]?|зачислен[оаы]?|перечислен[оаы]?|предоставлен[оаы]?|выдан[оаы]?|отловлен[оаы]?|нанесен[оаы]?|подключен[оаы]?|закрыт[оаы]?|включен[оаы]?|изменен[оаы]?|добавлен[оаы]?|выплачен[оаы]?|возобновлен[оаы]?|составлен[оаы]?|привлечен[оаы]?|вынесен[оаы]?|заделан[оаы]?|починен[оаы]?|вставлен[оаы]?|залатан[оаы]?|прочищен[оаы]?|промыт[оаы]?|откачан[оаы]?|покрашен[оаы]?|обработан[оаы]?|посыпан[оаы]?|вырезан[оаы]?|опилен[оаы]?|восстановлен[оаы]?|открыт[оаы]?|запущен[оаы]?|отправлен[оаы]? бригад[аы]|направлена бригада|бригада выехала)(?![а-я])/);

/** A future with a concrete doer or term. */
const FUTURE = ru(/(будет (выполнен|проведен|заменен|установлен|отремонтирован|восстановлен|вывезен|произведен|организован|устранен|спилен|закрыт|открыт|нанесен|подключен|запущен|включен|изменен|добавлен|выплачен|перечислен|назначен)|будут (выполнены|проведены|заменены|установлены|отремонтированы|восстановлены|вывезены|произведены|нанесены|спилены|устранены|запущены|включены|выплачены|перечислены)|выполнит|проведет|заменит|установит|отремонтирует|восстановит|вывезет|устранит|приступит|запланирован[оаы]?|включен[оаы]? в (план|график|перечень|программ))/);

const MONTHS = '(январ|феврал|март|апрел|ма[йяе]|июн|июл|август|сентябр|октябр|ноябр|декабр)';
const DATE = ru(new RegExp([
  '\\b\\d{1,2}\\.\\d{1,2}(\\.\\d{2,4})?\\b',
  `\\b\\d{1,2} ${MONTHS}`,
  `(до|к|в|с|по|на) (конца |начала |середины )?${MONTHS}\\w*( \\d{4})?`,
  `до (конца|начала|середины) (текущей |этой |следующей )?(недели|месяца|года|квартала)`,
  'в течение \\d+',
  'в течение (суток|недели|месяца|дня|двух|трех|пяти|десяти)',
  '(i|ii|iii|iv|\\d)[ -]?(м|го)? квартал',
  '\\b(в|до|на) \\d{4} (год|г\\.)',
  '\\b\\d{4} (году|года|г\\.)',
  '(сегодня|вчера|завтра|послезавтра)',
  '\\bв срок до',
  '\\b\\d{1,2}:\\d\\d\\b',
  '(в|на) (этой|следующей|текущей) неделе',
  '(в|на) (понедельник|вторник|среду|четверг|пятницу|субботу|воскресенье)',
].join('|')));

const RESPONSIBLE = ru(/(\bмуп\b|\bмбу\b|\bмку\b|\bмбоу\b|\bмбдоу\b|\bкгбуз\b|\bкгку\b|\bооо\b|\bоао\b|\bзао\b|\bпао\b|\bао\b|\bип\b|\bук\b|\bтсж\b|управляющ\w* (компани|организац)|подрядн|подрядчик|бригад|водоканал|теплов\w* сет|комбинат|мастер|инженер|начальник|директор|инспектор|участков|диспетчер|специалист\w* (мку|муп|мбу|управлени|отдел|комбинат|водоканал|теплосет)|\bгатп\b|перевозчик|электросет|россети|полици|мо мвд|роспотребнадзор|прокуратур|государственн\w* жилищн|жилинспекц|гжи|социальн\w* (защит|поддерж)|цсп|пфр|соцфонд|фонд пенсионного|регоператор|региональн\w* оператор|эдс|едд|управлени\w* образован|школ\w* №|детск\w* сад\w* №|поликлиник|больниц|\bмфц\b|сфр|клиентск\w* служб)/);
// Person names are matched on the original case (see hasName).
const NAME = /[А-ЯЁ][а-яё]+ [А-ЯЁ]\. ?[А-ЯЁ]\.|[А-ЯЁ]\. ?[А-ЯЁ]\. [А-ЯЁ][а-яё]+/;
const PHONE = ru(/(тел\.?|телефон\w*|\+7|8[ -]?\(?\d{3,4}\)?)[ :]*[\d() -]{5,}/);

const PLACE = ru(/(\bул\.|\bулиц|\bпр\.|\bпр-т|проспект|\bпер\.|переул|бульвар|\bб-р|шоссе|проезд|\bд\. ?\d|\bдом\w* ?№? ?\d|у дома|во двор|подъезд|перекрест|остановк|\bмкр|микрорайон|по указанному (в обращении )?адресу|по вашему адресу|по адресу|на участке|квартал|\bпос\.|поселк|территори\w* (школ|сада|дома|парка)|парк|сквер|площад|двор|гараж|этаж|подвал|крыш|кровл|опор[еау]|колод|школ[аеуы]|детск\w* сад|рынк|рынок|стадион|пустыр|тротуар|дорожк|перекрест|\bкв\. ?\d|квартир)/);

const REFUSAL = ru(/(не представляется возможным|отказ|не может быть (удовлетворен|выполнен|рассмотрен)|не относится к (компетенции|полномочиям|ведению)|не является (муниципальной|собственностью|объектом)|нет оснований|оснований для [^.]{0,40} (нет|не имеется|отсутствуют)|не предусмотрен|невозмож|не вправе|не уполномочен|вне компетенции|не входит в (компетенцию|полномочия)|\bнельзя\b|не будет\b|не допускается|не может\b|не наделен|не располагает)/);
const BECAUSE = ru(/(так как|поскольку|в связи с|по причине|ввиду|из-за|связан[оаы]? с|обусловлен|потому что)/);
const WHERE_TO = ru(/(подайте|позвоните|звоните|запишитесь|сообщите|вы можете|можно (получить|подать|обратиться|записаться|посмотреть|смотреть)|(вам |вы )?(следует|необходимо|нужно|можете|вправе|рекомендуем|рекомендуется|предлагаем) обратиться|обратитесь|обращаться (в|к|по)|для (решения|получения|оформления) [^.]{0,60} (в|к) |по телефону|тел\.|по адресу: |прием ведется|часы приема|в судебном порядке|в суд\b|через (портал|госуслуг|мфц)|в мфц)/);

const STOP = new Set(['ваше', 'вашe', 'обращение', 'обращения', 'обращению', 'рассмотрено', 'сообщаем', 'администрация', 'администрации', 'города', 'город', 'рубцовска',
  'рубцовск', 'который', 'которые', 'также', 'этого', 'этом', 'данный', 'данное', 'данного', 'указанн', 'вопрос', 'вопросу', 'вопросам', 'адресу', 'адрес', 'уважаем',
  'информация', 'информацию', 'работы', 'работ', 'меры', 'мер', 'будет', 'будут', 'было', 'была', 'были', 'этот', 'этой', 'того', 'чтобы', 'после', 'более', 'менее',
  'ответ', 'связи', 'период', 'время', 'настоящее', 'текущий', 'года', 'году', 'месяца', 'срок', 'сроки', 'порядке', 'рамках', 'компетенции', 'пределах', 'соответствии']);
/** Three-letter words that say nothing of the subject. */
const SHORT_STOP = new Set(['все', 'это', 'как', 'так', 'для', 'что', 'при', 'уже', 'без', 'под', 'над', 'еще', 'его', 'она', 'они', 'оно', 'них', 'нет', 'был', 'вам', 'вас', 'наш', 'ваш', 'мне', 'кто', 'чем', 'где', 'год', 'дня', 'тел', 'каб', 'том', 'тот', 'эти', 'тех', 'или', 'был', 'ими', 'себ']);

/** Stems too general to tell one subject from another (bureaucratic vocabulary). */
const GENERIC_STEMS = new Set(['обращен', 'рассмотр', 'сообща', 'администрац', 'город', 'рубцовск', 'вопрос', 'информац', 'работ', 'мер', 'принят', 'контрол',
  'направл', 'компетенц', 'организац', 'управлен', 'отдел', 'муниципальн', 'исполн', 'провед', 'выполн', 'срок', 'адрес', 'указа', 'ваш', 'ответ', 'необходим',
  'порядк', 'рамк', 'соответств', 'пределах', 'комитет', 'специалист', 'учрежден', 'предприят', 'мероприят', 'решен', 'законодательств', 'федеральн', 'закон',
  'стат', 'пункт', 'постановлен', 'прав', 'граждан', 'заявител', 'уведомл', 'связ', 'случа', 'возможн', 'дополнительн', 'сведен', 'текущ', 'год', 'период',
  'план', 'планов', 'ближайш', 'врем', 'настоя', 'благодар', 'проверк', 'провер', 'выезд', 'обследова', 'результат', 'факт', 'выявл', 'нарушен', 'состоян',
  'обеспеч', 'осуществл', 'территор', 'мест', 'жител', 'дом', 'улиц', 'район', 'микрорайон', 'бюджет', 'финансирован', 'средств', 'рассмотрен', 'поручен', 'сообщ',
  'уважа', 'здравств', 'специал', 'благоустройств', 'комбинат', 'бригад', 'подрядчик', 'мастер', 'служб', 'предостав', 'являет', 'котор', 'такж', 'дан', 'настоящ', 'мож', 'будет', 'будут', 'был', 'необходим', 'имеет', 'нет']);

const GENERIC_PREFIX = new Set([...GENERIC_STEMS].filter((x) => x.length >= 5).map((x) => x.slice(0, 5)));

const stemmer = newStemmer('russian');
const STEM_CACHE_MAX = 100_000;
const stemCache = new Map<string, string>();
export function stem(word: string): string {
  const cached = stemCache.get(word);
  if (cached !== undefined) return cached;
  const s: string = /[а-я]/.test(word) ? stemmer.stem(word) : word;
  if (stemCache.size >= STEM_CACHE_MAX) stemCache.clear();
  stemCache.set(word, s);
  return s;
}

/** Content stems of a normalised text (words of 4+ letters, no stop words). */
export function contentStems(t: string): Set<string> {
  const out = new Set<string>();
  for (const w of t.split(/[^а-яa-z]+/)) if (w.length >= 3 && !STOP.has(w) && !SHORT_STOP.has(w)) out.add(stem(w));
  return out;
}

// ---------------------------------------------------------------- addresses

// Street markers (any case) followed by a capitalised name: «ул. Ленина, 5», «пр-т Рубцовский д. 12», «переулок Улежникова».
const STREET = /(?<![А-Яа-яЁёA-Za-z0-9])(?:ул\.?|улиц[аеыу]|пр\.|пр-т|пр-кт|проспект[аеу]?|пер\.|переул(?:ок|ке|ка)|бульвар[аеу]?|б-р)\s*(?:им\.\s*)?((?:\d+-?[а-я]*\s)?[А-ЯЁ][а-яё-]{2,}(?:\s[А-ЯЁ][а-яё-]{2,})?)((?:\s*,\s*(?:д\.|дом)?|\s+(?:д\.|дом))\s*№?\s*(\d+[а-яА-Я]?(?:\/\d+)?)(?![\d.]))?/gi;

export interface ParsedAddress { street: string; house: string | null; raw: string }

/** Street (first 5 letters of its name, normalised) and house number of each address in a text (case kept: names are capitalised). */
export function findAddresses(raw: string): ParsedAddress[] {
  const out: ParsedAddress[] = [];
  STREET.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = STREET.exec(raw))) {
    // The /i flag lets the marker be of any case; the name must start with a capital letter in the text itself.
    const nameStart = m[1].replace(/^\d+-?[а-яё]*\s/i, '');
    if (!/^[А-ЯЁ]/.test(nameStart)) continue;
    // An office or reception address («в офисе на пр. Ленина, 33», «МФЦ (пр. Ленина, 60)») is where to go, not the place of the problem.
    if (/(офис|мфц|каб\.|кабинет|при[её]м|обрат|подайте|адрес:|суд)[^.;]{0,25}$/i.test(raw.slice(Math.max(0, m.index - 40), m.index))) continue;
    out.push({ street: norm(nameStart).split(' ')[0].slice(0, 5), house: m[3] ? m[3].toLowerCase() : null, raw: m[0].trim() });
  }
  return out;
}

/** Address of an appeal: the marked form, or «Street, N» as intake sources write it. */
export function appealAddress(addr: string | null | undefined): ParsedAddress | null {
  if (!addr) return null;
  const marked = findAddresses(addr);
  if (marked.length) return marked[0];
  const t = norm(addr).replace(/^г\.?\s*рубцовск,?\s*/, '');
  const m = /^([а-я][а-я-]{2,})(?:\s[а-я-]+)?[\s,]+(?:д\.|дом)?\s*(\d+[а-я]?)/.exec(t);
  return m ? { street: m[1].slice(0, 5), house: m[2], raw: addr } : null;
}

// ---------------------------------------------------------------- extraction

function matches(t: string, list: [RegExp, string][]): string[] {
  const out: string[] = [];
  for (const [re, label] of list) if (re.test(t)) out.push(label);
  return out;
}

function countMatches(re: RegExp, t: string): number {
  re.lastIndex = 0;
  let n = 0;
  while (re.exec(t)) n++;
  return n;
}

/** Theme keyword stems (keywords are stems or phrases of stems already; each word stemmed again). */
const keywordCache = new Map<string, Set<string>>();
function keywordStems(keywords: readonly string[] | undefined): Set<string> {
  const key = (keywords ?? []).join('|');
  const hit = keywordCache.get(key);
  if (hit) return hit;
  const out = new Set<string>();
  if (keywordCache.size > 10_000) keywordCache.clear();
  keywordCache.set(key, out);
  for (const k of keywords ?? []) for (const w of norm(k).split(/[^а-яa-z]+/)) if (w.length >= 3) out.add(w.length >= 5 ? stem(w) : w);
  return out;
}

let vocabulary: Ref[] = [];
/** The keywords of every theme (stems): an answer that hits another theme's and none of its own is about something else. */
export function setTopicVocabulary(themes: readonly (readonly string[])[]): void {
  vocabulary = themes.map((k) => refOf(keywordStems(k)));
}

/** Stems and their 4–5-letter prefixes, for prefix matching in constant time («отоплен» ~ «отопительн»). */
interface Ref { stems: Set<string>; keys: Set<string> }
function refOf(stems: Set<string>): Ref {
  const keys = new Set<string>();
  for (const r of stems) if (r.length >= 4) keys.add(r.slice(0, 5));
  return { stems, keys };
}

function overlaps(answer: Set<string>, ref: Ref): number {
  let n = 0;
  for (const a of answer) {
    if (ref.stems.has(a) || (a.length >= 4 && (ref.keys.has(a.slice(0, 5)) || ref.keys.has(a.slice(0, 4))))) n++;
  }
  return n;
}

/** Citations of legal acts (numbers and dates of acts are not terms of work) and participles of rules. */
const CITATION = ru(/((обращени\w*|заявлени\w*|письм\w*|запрос\w*|жалоб\w*) (от|№|вх\.) ?[\dа-я./№ -]{2,30}|(от|№) ?\d{1,2}\.\d{1,2}\.\d{2,4}( г\.?)?( ?№ ?[\dа-я./-]+)?|№ ?[\dа-я./-]+|(санпин|гост( р)?|снип|сп) [\d./-]+|\d+-(фз|зс)|установленн\w*|утвержденн\w*|устанавлива\w*|предусмотренн\w*|при соблюдении услови\w*)/g);

function sameSet(a: Set<string>, b: Set<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

export function extract(c: AnswerCase): Extracted {
  const raw = c.answerText ?? '';
  const full = norm(raw);
  // What is searched for work, terms and doers: the text without the citations of legal acts.
  const t = full.replace(CITATION, ' ');
  const words = t.split(/[^а-яa-z0-9]+/).filter(Boolean).length;

  const boilerplate = matches(t, BOILERPLATE);
  const vague = matches(t, VAGUE);
  const forwarded: string[] = [];
  FORWARD.lastIndex = 0;
  for (let m; (m = FORWARD.exec(t)) && forwarded.length < 3;) forwarded.push(m[0].slice(0, 60));
  const laws: string[] = [];
  LAW.lastIndex = 0;
  for (let m; (m = LAW.exec(full)) && laws.length < 3;) laws.push(m[0]);

  const actionCount = countMatches(ACTION, t);
  const hasAction = actionCount > 0;
  const hasDate = DATE.test(t);
  const hasResponsible = RESPONSIBLE.test(t) || NAME.test(raw) || PHONE.test(t);
  const appealAddr = appealAddress(c.appealAddress);
  const answerAddresses = findAddresses(raw);
  const appealStreet = appealAddr?.street;
  const mentionsAppealStreet = !!appealStreet && appealStreet.length >= 4 && t.includes(appealStreet);
  const hasPlace = PLACE.test(t) || mentionsAppealStreet;
  const refusal = REFUSAL.test(t);
  const because = BECAUSE.test(t);
  const whereTo = WHERE_TO.test(t);
  const done = DONE.test(t);
  const future = FUTURE.test(t);
  const inspection = INSPECTION.test(t);
  const contact = PHONE.test(t) || NAME.test(raw);
  const guidance = WHERE_TO.test(t);

  // Address mismatch: the answer names an address and none of its addresses is the appeal's (same street; same house when both give one).
  let addressMismatch = 0;
  if (appealAddr && answerAddresses.length) {
    const same = answerAddresses.some((a) => a.street === appealAddr.street && (!a.house || !appealAddr.house || a.house === appealAddr.house));
    if (!same) addressMismatch = 1;
  }

  // Topic mismatch: the answer's subject words share nothing with the appeal's text and theme.
  const answerStems = contentStems(t);
  for (const g of [...answerStems]) if (GENERIC_STEMS.has(g) || GENERIC_PREFIX.has(g.slice(0, 5))) answerStems.delete(g);
  const ref = contentStems(norm(c.appealText ?? ''));
  for (const k of keywordStems(c.themeKeywords)) ref.add(k);
  const overlap = overlaps(answerStems, refOf(ref));
  const ownTheme = keywordStems(c.themeKeywords);
  const otherTheme = overlap === 0 && answerStems.size >= 2 && vocabulary.some((v) => v.stems.size && !sameSet(v.stems, ownTheme) && overlaps(answerStems, v) > 0);
  const topicMismatch = answerStems.size >= 2 && overlap === 0 && otherTheme ? 1 : 0;

  const x: Record<FeatureName, number> = {
    noAction: hasAction ? 0 : 1,
    noDate: hasDate ? 0 : 1,
    noResponsible: hasResponsible ? 0 : 1,
    noPlace: hasPlace ? 0 : 1,
    boilerplate: Math.min(boilerplate.length, 3) / 3,
    vaguePromise: vague.length ? 1 : 0,
    forwarded: forwarded.length ? 1 : 0,
    lawOnly: laws.length && !hasAction ? 1 : 0,
    refusal: refusal ? 1 : 0,
    groundedRefusal: refusal && because && whereTo ? 1 : 0,
    guidance: guidance && !refusal ? 1 : 0,
    doneWithDate: done && hasAction && hasDate ? 1 : 0,
    workDone: done && hasAction ? 1 : 0,
    datedPromise: future && hasDate ? 1 : 0,
    explanation: because && !refusal ? 1 : 0,
    inspection: inspection ? 1 : 0,
    contact: contact ? 1 : 0,
    template: 0,
    addressMismatch,
    topicMismatch,
    shortText: words < 12 ? 1 : 0,
    actionCount: Math.min(actionCount, 4) / 4,
  };
  return {
    x: FEATURES.map((f) => x[f]),
    found: { boilerplate, vague, forwarded, answerAddresses: answerAddresses.map((a) => a.raw), appealAddress: c.appealAddress ?? null, laws },
  };
}

export const TEMPLATE_MIN = 3;
/** The template feature for a template of `size` different appeals. */
export function templateFeature(size: number, x?: readonly number[]): number {
  // A template counts against an answer when it says nothing of this appeal: no date of its own (a form letter
  // filled in with the date and place of the work done is still an answer).
  if (size < TEMPLATE_MIN) return 0;
  return !x || x[FEATURES.indexOf('noDate')] === 1 ? 1 : 0;
}

/** Readable reasons of a vector: the features that fired, in Russian, with the direction the model gives them. */
export function reasonsOf(e: Extracted, templateSize: number, weights: readonly number[]): Reason[] {
  const x = e.x;
  const i = (f: FeatureName) => FEATURES.indexOf(f);
  const out: (Reason & { w: number })[] = [];
  const add = (f: FeatureName, text: string) => {
    const w = weights[i(f) + 1] * x[i(f)];
    if (x[i(f)] && w !== 0) out.push({ code: codeOf(f), text, effect: w > 0 ? 'FORMAL' : 'SUBSTANTIVE', w });
  };
  const q = (xs: string[]) => xs.map((s) => `«${s}»`).join(', ');
  add('noAction', 'Нет конкретного действия: не сказано, что сделано или будет сделано');
  add('noDate', 'Нет срока или даты выполнения');
  add('noResponsible', 'Не назван исполнитель (организация, бригада, должностное лицо, телефон)');
  add('noPlace', 'Не указано место (адрес, двор, участок)');
  add('boilerplate', `Шаблонные фразы без содержания: ${q(e.found.boilerplate)}`);
  add('vaguePromise', `Обещание без срока: ${q(e.found.vague)}`);
  add('forwarded', `Только переадресация: ${q(e.found.forwarded)} — без результата`);
  add('lawOnly', `Ссылки на нормы (${e.found.laws.join(', ')}) без действий`);
  add('refusal', 'Отказ');
  add('groundedRefusal', 'Обоснованный отказ: сказано почему и куда обратиться');
  add('guidance', 'Сказано, что делать дальше: куда обратиться, что подать, по какому телефону');
  add('workDone', 'Сообщено о выполненной работе');
  add('doneWithDate', 'Работы выполнены, указана дата');
  add('datedPromise', 'Обещание со сроком');
  add('explanation', 'Объяснена причина');
  add('inspection', 'Проведено обследование или проверка');
  add('contact', 'Указано контактное лицо или телефон');
  add('template', `Шаблон: тот же текст (с точностью до чисел, дат и адресов) отправлен на ${templateSize} разных обращений`);
  add('addressMismatch', `Адрес в ответе (${e.found.answerAddresses.join('; ')}) не совпадает с адресом обращения (${e.found.appealAddress ?? '—'})`);
  add('topicMismatch', 'Ответ не о предмете обращения: ни одного общего по смыслу слова с текстом и темой обращения');
  add('shortText', 'Очень короткий ответ');
  add('actionCount', 'Названы конкретные работы');
  return out.sort((a, b) => Math.abs(b.w) - Math.abs(a.w)).map(({ w: _w, ...r }) => r);
}

const CODES: Record<FeatureName, string> = {
  noAction: 'NO_ACTION', noDate: 'NO_DATE', noResponsible: 'NO_RESPONSIBLE', noPlace: 'NO_PLACE', boilerplate: 'BOILERPLATE',
  vaguePromise: 'VAGUE_PROMISE', forwarded: 'FORWARDED', lawOnly: 'LAW_ONLY', refusal: 'REFUSAL', groundedRefusal: 'GROUNDED_REFUSAL', guidance: 'GUIDANCE',
  workDone: 'WORK_DONE', doneWithDate: 'DONE_WITH_DATE', datedPromise: 'DATED_PROMISE', explanation: 'EXPLANATION', inspection: 'INSPECTION', contact: 'CONTACT',
  template: 'TEMPLATE', addressMismatch: 'ADDRESS_MISMATCH', topicMismatch: 'TOPIC_MISMATCH', shortText: 'SHORT', actionCount: 'CONCRETE_ACTION',
};
export function codeOf(f: FeatureName): string {
  return CODES[f];
}

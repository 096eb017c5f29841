/**
 * Texts that mention escalation: a complaint to the prosecutor, the governor, a court, the media, the president,
 * or a collective appeal. Word forms are matched explicitly (noun cases), with letter boundaries so that
 * «посуда», «судно», «смирно», «губернаторская ёлка» do not match. The evaluation set is in test/risks.test.ts.
 */
const L = 'а-яa-z0-9';
const word = (stem: string, endings: string) => new RegExp(`(?<![${L}])${stem}(?:${endings})(?![${L}])`, 'u');

export const ESCALATION_PATTERNS: { code: string; label: string; re: RegExp }[] = [
  { code: 'prosecutor', label: 'прокуратура', re: word('прокур', 'атура|атуру|атуры|атуре|атурой|ор|ора|ору|ором|оре|оры|оров|орскую|орская|орской') },
  { code: 'governor', label: 'губернатор', re: word('губернатор', '|а|у|ом|е|ы|ов|ам') },
  { code: 'court', label: 'суд', re: word('суд', '|а|у|ом|е|ы|ов|ам|ами|ах|ебный|ебное|ебного|ебном|ебные|ебных|ебным|ебном порядке|ебную|ебной') },
  { code: 'sue', label: 'иск', re: word('', 'исковое|исковым|иск|иском|иска|подам в суд|подадим в суд|судиться|засудим') },
  { code: 'media', label: 'СМИ', re: word('', 'сми|журналист|журналисты|журналистам|журналистов|журналистами|телевидение|телевидения|на тв|в газету|в газете|прессу|пресса') },
  { code: 'president', label: 'президент', re: word('', 'президент|президента|президенту|президентом|путину|путина|путин|прямую линию|прямой линии') },
  { code: 'collective', label: 'коллективное обращение', re: /(?<![а-яa-z0-9])коллективн(?:ое|ого|ому|ым|ом|ая|ую|ой|ые|ых|ыми)\s+(?:обращени|жалоб|письм|заявлени|иск)[а-я]*/u },
  { code: 'signatures', label: 'подписи жителей', re: /(?<![а-яa-z0-9])(?:собрали|собираем|соберем|собрано)\s+(?:\d+\s+)?подпис[а-я]*/u },
];

/** The escalation codes a text mentions (empty: none). */
export function escalationMentions(text: string | null | undefined): string[] {
  if (!text) return [];
  const t = text.toLowerCase().replace(/ё/g, 'е');
  return ESCALATION_PATTERNS.filter((p) => p.re.test(t)).map((p) => p.code);
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closestStreet, editDistance, parseAddressHouses as parseAddress } from '../server/intake/address.js';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { gqlUpload } from './helpers/upload.js';

/** [spelling, street key, houses] — how people write addresses. */
const TABLE: [string, string, string[]][] = [
  ['пр. Ленина, 34, кв. 21', 'пр-кт|ленина', ['34']],
  ['ул. Громова, 18, кв. 44', 'ул|громова', ['18']],
  ['ул. Дзержинского, 20, 22', 'ул|дзержинского', ['20', '22']],
  ['ул. Светлова, 10–14', 'ул|светлова', ['10', '12', '14']],
  ['ул. Светлова, 10-14', 'ул|светлова', ['10', '12', '14']],
  ['ул. Светлова 10 - 14', 'ул|светлова', ['10', '12', '14']],
  ['Дзержинского 20 и 22', '|дзержинского', ['20', '22']],
  ['ул. Дзержинского, д. 20, 22, 24', 'ул|дзержинского', ['20', '22', '24']],
  ['ул. Ленина, 5, оф. 12', 'ул|ленина', ['5']],
  ['ул. Ленина, 5, офис 12', 'ул|ленина', ['5']],
  ['Ленина, 5, подъезд 2, этаж 4', '|ленина', ['5']],
  ['ул. Ленина д. 5 под. 2 эт. 3', 'ул|ленина', ['5']],
  ['ул Ленина д 5 кв 7', 'ул|ленина', ['5']],
  ['ул. Ленина, д. 5, кв. 7', 'ул|ленина', ['5']],
  ['ул. Ленина, дом 5, квартира 7', 'ул|ленина', ['5']],
  ['ул. Ленина, дом № 5', 'ул|ленина', ['5']],
  ['ул. Ленина, д.№5', 'ул|ленина', ['5']],
  ['ул. Ленина, 12А', 'ул|ленина', ['12а']],
  ['ул. Ленина, 12 а', 'ул|ленина', ['12а']],
  ['ул. Ленина, 12-а', 'ул|ленина', ['12а']],
  ['ул. Ленина, 12a', 'ул|ленина', ['12а']],
  ['ул. Ленина, 12/1', 'ул|ленина', ['12/1']],
  ['ул. Ленина, 12 / 1', 'ул|ленина', ['12/1']],
  ['ул. Ленина, 12 корп. 2', 'ул|ленина', ['12к2']],
  ['ул. Ленина, 12, корпус 2', 'ул|ленина', ['12к2']],
  ['ул. Ленина, 12 к2', 'ул|ленина', ['12к2']],
  ['ул. Ленина, 12, стр. 3', 'ул|ленина', ['12с3']],
  ['ул. Ленина, 12 строение 3', 'ул|ленина', ['12с3']],
  ['Ленина ул., 12', 'ул|ленина', ['12']],
  ['Ленина улица 12', 'ул|ленина', ['12']],
  ['Ленина пр-т 85а', 'пр-кт|ленина', ['85а']],
  ['проспект Ленина 85', 'пр-кт|ленина', ['85']],
  ['пр-кт Ленина, 85', 'пр-кт|ленина', ['85']],
  ['пр-т. Ленина 85', 'пр-кт|ленина', ['85']],
  ['Ленина проспект, д. 85', 'пр-кт|ленина', ['85']],
  ['г. Рубцовск, ул. Ленина, 5', 'ул|ленина', ['5']],
  ['Рубцовск, Ленина 5', '|ленина', ['5']],
  ['658200, Алтайский край, г. Рубцовск, ул. Ленина, д. 5', 'ул|ленина', ['5']],
  ['Россия, Алтайский край, Рубцовск, пр. Ленина 5', 'пр-кт|ленина', ['5']],
  ['пер. Улежникова, 3', 'пер|улежникова', ['3']],
  ['переулок Улежникова 3', 'пер|улежникова', ['3']],
  ['Улежникова пер., 3', 'пер|улежникова', ['3']],
  ['пер. Алейский, д.7, кв.3', 'пер|алейский', ['7']],
  ['ул. 2-я Пятилетка, 5', 'ул|2-я пятилетка', ['5']],
  ['ул. 2я Пятилетка, 5', 'ул|2-я пятилетка', ['5']],
  ['ул. 2-ая Пятилетка 5', 'ул|2-я пятилетка', ['5']],
  ['ул. Карла Маркса, 100', 'ул|карла маркса', ['100']],
  ['ул. им. Карла Маркса, 100', 'ул|карла маркса', ['100']],
  ['б-р Победы, 3', 'б-р|победы', ['3']],
  ['бульвар Победы 3', 'б-р|победы', ['3']],
  ['пл. Победы, 1', 'пл|победы', ['1']],
  ['площадь Победы 1', 'пл|победы', ['1']],
  ['ш. Змеиногорское, 10', 'ш|змеиногорское', ['10']],
  ['Змеиногорское шоссе 10', 'ш|змеиногорское', ['10']],
  ['мкр. Черёмушки, 4', 'мкр|черемушки', ['4']],
  ['ул. Краснознамённая, 15', 'ул|краснознаменная', ['15']],
  ['ул. Краснознаменная, 15', 'ул|краснознаменная', ['15']],
  ['УЛ. ЛЕНИНА, 5', 'ул|ленина', ['5']],
  ['ул.Ленина,5', 'ул|ленина', ['5']],
  ['ул.Ленина 5 кв.7', 'ул|ленина', ['5']],
  ['ул. Лeнина, 5', 'ул|ленина', ['5']],
  ['«ул. Ленина», 5', 'ул|ленина', ['5']],
  ['ул. Ленина, 005', 'ул|ленина', ['5']],
  ['ул. Ленина', 'ул|ленина', []],
  ['Ленина', '|ленина', []],
  ['улица Комсомольская', 'ул|комсомольская', []],
  ['ул. Комсомольская, кв. 5', 'ул|комсомольская', []],
  ['Комсомольская ул.', 'ул|комсомольская', []],
  ['ул. Комсомольская 100 п. 2', 'ул|комсомольская', ['100']],
  ['ул. Пролетарская, 150, пом. 3', 'ул|пролетарская', ['150']],
  ['ул. Пролетарская, 150, комн. 3', 'ул|пролетарская', ['150']],
  ['ул. Пролетарская, д. 150 корп. 1 кв. 3', 'ул|пролетарская', ['150к1']],
  ['Пролетарская 150-152', '|пролетарская', ['150', '152']],
  ['ул. Пролетарская, 150 и 152', 'ул|пролетарская', ['150', '152']],
  ['ул. Пролетарская, дома 150, 152', 'ул|пролетарская', ['150', '152']],
  ['ул. Алтайская, 10, 12, 14, 16', 'ул|алтайская', ['10', '12', '14', '16']],
  ['ул. Алтайская, 10–13', 'ул|алтайская', ['10', '11', '12', '13']],
  ['ул. Алтайская, 1-а', 'ул|алтайская', ['1а']],
];

/** Every combination of a street written in several ways and a house written in several ways. */
const STREETS: [string, string][] = [['ул. Громова', 'ул|громова'], ['Громова ул.', 'ул|громова'], ['улица Громова', 'ул|громова'], ['г. Рубцовск, ул. Громова', 'ул|громова']];
const HOUSES: [string, string[]][] = [[', 18', ['18']], [', д. 18', ['18']], [', дом № 18', ['18']], [', 18, кв. 44', ['18']], [', 18А', ['18а']], [', 18/2', ['18/2']], [', 18, 20', ['18', '20']]];

describe('addresses as people write them', () => {
  const cases: [string, string, string[]][] = [...TABLE, ...STREETS.flatMap(([s, key]) => HOUSES.map(([h, houses]): [string, string, string[]] => [s + h, key, houses]))];

  it('has a table of at least 100 spellings', () => {
    expect(cases.length).toBeGreaterThanOrEqual(100);
  });

  it.each(cases)('%s', (raw, streetKey, houses) => {
    const p = parseAddress(raw);
    expect(p, raw).not.toBeNull();
    expect(p!.streetKey).toBe(streetKey);
    expect(p!.houses).toEqual(houses);
    expect(p!.house).toBe(houses[0] ?? null);
  });

  it('finds the only register street within a small edit distance', () => {
    const streets = ['ленина', 'комсомольская', 'дзержинского', 'громова', 'светлова', 'карла маркса'];
    expect(closestStreet('комсомольськая', streets)).toBe('комсомольская');
    expect(closestStreet('дзержинскова', streets)).toBe('дзержинского');
    expect(closestStreet('ленена', streets)).toBe('ленина');
    expect(closestStreet('гром', streets)).toBeNull();       // too short to guess
    expect(closestStreet('пушкина', streets)).toBeNull();
    expect(editDistance('ленина', 'ленена', 2)).toBe(1);
    expect(editDistance('abc', 'xyzxyz', 1)).toBe(2);
  });
});

const IMPORT = `mutation($file: Upload!, $channel: Channel) { importAppeals(file: $file, channel: $channel) { status inserted issues { line field severity reason } } }`;
const HEADER = 'ID;Дата создания;Соцсеть;Ссылка;Текст;Автор;Категория;Адрес;Статус;Ответ;Дата ответа';

describe.each(backends)('address register lookup on %s', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend, 100);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('resolves flats, house lists, ranges, streets without a house and misspelled streets; only the unknown goes to review', async () => {
    const rows: [string, string][] = [
      ['A-1', 'пр. Ленина, 34, кв. 21'], ['A-2', 'ул. Громова, 18, кв. 44'], ['A-3', 'ул. Дзержинского, 20, 22'], ['A-4', 'ул. Светлова, 10–14'],
      ['A-5', 'ул. Комсомольская'], ['A-6', 'ул. Комсомольськая, 100'], ['A-7', 'ул. Несуществующая, 5'], ['A-8', 'ул. Громова, 18, под. 2, эт. 5'],
    ];
    const csv = [HEADER, ...rows.map(([id, addr], i) => `${id};1${i}.03.2026 09:00;ВКонтакте;;Яма на дороге у дома;Пётр;Дороги;${addr};Новый;;`)].join('\n');
    const r = await gqlUpload(app.url, IMPORT, { channel: 'INCIDENT_MANAGEMENT' }, { name: 'addr.csv', content: csv });
    expect(r.errors).toBeUndefined();
    expect(r.data.importAppeals).toMatchObject({ status: 'DONE', inserted: 8 });
    const got = await app.sql(`SELECT external_id, place_status, place_precision, point IS NOT NULL AS has_point FROM appeal WHERE external_id LIKE 'A-%' ORDER BY external_id`);
    const by = Object.fromEntries(got.map((x: any) => [x.external_id, x]));
    for (const id of ['A-1', 'A-2', 'A-3', 'A-4', 'A-6', 'A-8']) expect(by[id], id).toMatchObject({ place_status: 'GEOCODED', place_precision: 'HOUSE', has_point: true });
    expect(by['A-5']).toMatchObject({ place_status: 'GEOCODED', place_precision: 'STREET', has_point: true });
    expect(by['A-7']).toMatchObject({ place_status: 'UNRESOLVED', place_precision: 'NONE', has_point: false });
    // The street-level point lies on the street (one of its register points).
    const [onStreet] = await app.sql(`SELECT EXISTS (SELECT 1 FROM address_point p, appeal a WHERE a.external_id = 'A-5' AND p.street_loose = 'комсомольская' AND ST_Equals(p.point, a.point)) AS ok`);
    expect(onStreet.ok).toBe(true);
    // The same house as A-2, written with entrance and floor, has the same point.
    const [same] = await app.sql(`SELECT ST_Equals(a.point, b.point) AS ok FROM appeal a, appeal b WHERE a.external_id = 'A-2' AND b.external_id = 'A-8'`);
    expect(same.ok).toBe(true);
    const review = await app.gql('{ appeals(filter: { placeStatuses: ["UNRESOLVED"] }, first: 100) { edges { node { externalId placePrecision } } } }');
    expect(review.errors).toBeUndefined();
    expect(review.data.appeals.edges.map((e: any) => e.node.externalId).filter((x: string) => x.startsWith('A-'))).toEqual(['A-7']);
    const card = await app.gql('{ appeals(filter: { text: "яма" }, first: 100) { edges { node { externalId placePrecision } } } }');
    expect(card.data.appeals.edges.find((e: any) => e.node.externalId === 'A-5').node.placePrecision).toBe('STREET');
  });
});

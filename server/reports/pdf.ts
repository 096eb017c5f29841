import { createRequire } from 'node:module';
import { FONT_DIR, FONT_FILES } from './charts.js';
import type { Block, ReportDocument } from './content.js';

/**
 * The PDF of a report (pdfmake on the server, A4 portrait; charts and maps drawn as vector SVG): the DejaVu Sans TTF of the machine embedded (Cyrillic,
 * narrow no-break spaces, «ёлочки»), page numbers «Стр. N из M» in the footer, tables with a repeated header row.
 * pdfmake may read nothing but the font files and fetch nothing from the network.
 */

interface PdfMake {
  setFonts(f: unknown): void;
  setUrlAccessPolicy(cb: (url: string) => boolean): void;
  setLocalAccessPolicy(cb: (path: string) => boolean): void;
  createPdf(doc: unknown): { getBuffer(): Promise<Buffer> };
}

let pdfmake: PdfMake | undefined;
function printer(): PdfMake {
  if (pdfmake) return pdfmake;
  const pm = createRequire(import.meta.url)('pdfmake') as PdfMake;
  pm.setFonts({ DejaVu: { normal: FONT_FILES.regular, bold: FONT_FILES.bold, italics: FONT_FILES.regular, bolditalics: FONT_FILES.bold } });
  pm.setUrlAccessPolicy(() => false);
  pm.setLocalAccessPolicy((p) => p.startsWith(FONT_DIR + '/'));
  pdfmake = pm;
  return pm;
}

const CONTENT_W = 595.28 - 2 * 50;
const ALIGN = { l: 'left', r: 'right', c: 'center' } as const;

function node(b: Block): unknown {
  switch (b.t) {
    case 'title':
      return { stack: b.lines.map((l, i) => ({ text: l, style: i === 0 ? 'title' : 'subtitle' })), margin: [0, 0, 0, 10] };
    case 'h1': return { text: b.text, style: 'h1' };
    case 'h2': return { text: b.text, style: 'h2' };
    case 'p': return { text: b.text, style: b.muted ? 'muted' : 'p', bold: b.bold };
    case 'list': return { ol: b.items.map((t) => ({ text: t, margin: [0, 0, 0, 3] })), style: 'p' };
    case 'pagebreak': return { text: '', pageBreak: 'after' };
    case 'image':
      return { stack: [
        { svg: b.svg, width: CONTENT_W * b.width, alignment: 'center', font: 'DejaVu' },
        ...(b.caption ? [{ text: b.caption, style: 'caption' }] : []),
      ], unbreakable: true, margin: [0, 4, 0, 8] };
    case 'table': {
      const total = b.widths.reduce((s, w) => s + w, 0);
      const align = (i: number) => ALIGN[b.align?.[i] ?? 'l'];
      return {
        table: {
          headerRows: 1, dontBreakRows: true,
          widths: b.widths.map((w) => (CONTENT_W - 4 * b.widths.length * 2) * (w / total)),
          body: [
            b.header.map((h, i) => ({ text: h, style: 'th', alignment: align(i) })),
            ...b.rows.map((r) => r.map((c, i) => ({ text: c, style: 'td', alignment: align(i) }))),
          ],
        },
        layout: {
          hLineWidth: (i: number, n: { table: { body: unknown[] } }) => (i === 0 || i === 1 || i === n.table.body.length ? 0.8 : 0.3),
          vLineWidth: () => 0,
          hLineColor: (i: number) => (i <= 1 ? '#4a5568' : '#cbd5e0'),
          fillColor: (row: number) => (row === 0 ? '#edf2f7' : null),
          paddingTop: () => 3, paddingBottom: () => 3,
        },
        margin: [0, 4, 0, 6],
      };
    }
  }
}

export async function renderPdf(doc: ReportDocument, generated: string): Promise<Buffer> {
  const pm = printer();
  const def = {
    pageSize: 'A4',
    pageMargins: [50, 50, 50, 50],
    info: { title: doc.title, subject: doc.subtitle, creator: 'МЦУ Hub', producer: 'МЦУ Hub' },
    defaultStyle: { font: 'DejaVu', fontSize: 9.5, lineHeight: 1.2, color: '#1a202c' },
    header: (page: number) => (page === 1 ? null : { text: `${doc.title}. ${doc.subtitle}`, style: 'running', margin: [50, 24, 50, 0] }),
    footer: (page: number, pages: number) => ({ columns: [
      { text: generated, style: 'running' },
      { text: `Стр. ${page} из ${pages}`, style: 'running', alignment: 'right' },
    ], margin: [50, 16, 50, 0] }),
    styles: {
      title: { fontSize: 17, bold: true, margin: [0, 0, 0, 6] },
      subtitle: { fontSize: 12, margin: [0, 0, 0, 2] },
      h1: { fontSize: 13, bold: true, margin: [0, 14, 0, 6], color: '#1a365d' },
      h2: { fontSize: 10.5, bold: true, margin: [0, 8, 0, 3] },
      p: { margin: [0, 0, 0, 6], alignment: 'justify' },
      muted: { fontSize: 8, color: '#4a5568', margin: [0, 0, 0, 6] },
      caption: { fontSize: 8, color: '#4a5568', alignment: 'center', margin: [0, 3, 0, 0] },
      th: { fontSize: 7.5, bold: true },
      td: { fontSize: 8.5 },
      running: { fontSize: 7, color: '#718096' },
    },
    content: doc.blocks.map(node),
  };
  return pm.createPdf(def).getBuffer();
}

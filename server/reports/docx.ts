import {
  AlignmentType, BorderStyle, Document, Footer, Header, HeadingLevel, ImageRun, LevelFormat, Packer, PageBreak, PageNumber, Paragraph,
  ShadingType, Table, TableCell, TableRow, TextRun, WidthType,
} from 'docx';
import type { Block, ReportDocument } from './content.js';
import { rasteriseAsync, type Png } from './charts.js';

/**
 * The DOCX of a report (the `docx` library): the same blocks as the PDF; text from the database goes into text runs
 * only (the library escapes it), charts and maps as PNG rasterised by resvg. Font: Arial (present wherever Word is; LibreOffice
 * substitutes Liberation Sans with the same metrics).
 */

const FONT = 'Arial';
const CONTENT_PX = 620; // A4 with 2 cm margins at 96 px per inch ≈ 643 px; a little less.
const ALIGN = { l: AlignmentType.LEFT, r: AlignmentType.RIGHT, c: AlignmentType.CENTER } as const;

let lists = 0;
const run = (text: string, o: { bold?: boolean; size?: number; color?: string } = {}) => new TextRun({ text, font: FONT, bold: o.bold, size: o.size ?? 21, color: o.color });

function nodes(b: Block, images: Map<Block, Png>): (Paragraph | Table)[] {
  switch (b.t) {
    case 'title':
      return b.lines.map((l, i) => new Paragraph({ spacing: { after: i === b.lines.length - 1 ? 200 : 60 }, children: [run(l, { bold: i === 0, size: i === 0 ? 34 : 24 })] }));
    case 'h1': return [new Paragraph({ heading: HeadingLevel.HEADING_1, spacing: { before: 280, after: 120 }, children: [run(b.text, { bold: true, size: 27, color: '1A365D' })] })];
    case 'h2': return [new Paragraph({ heading: HeadingLevel.HEADING_2, spacing: { before: 160, after: 60 }, children: [run(b.text, { bold: true, size: 22 })] })];
    case 'p': return [new Paragraph({ alignment: b.muted ? AlignmentType.LEFT : AlignmentType.JUSTIFIED, spacing: { after: 120 },
      children: [run(b.text, { bold: b.bold, size: b.muted ? 17 : 21, color: b.muted ? '4A5568' : undefined })] })];
    // Each list is its own numbering instance: the appendix starts again at 1 after the recommendations' list.
    case 'list': { const instance = ++lists; return b.items.map((t) => new Paragraph({ numbering: { reference: 'numbered', level: 0, instance }, spacing: { after: 60 }, children: [run(t)] })); }
    case 'pagebreak': return [new Paragraph({ children: [new PageBreak()] })];
    case 'image': {
      const img = images.get(b)!;
      const w = Math.round(CONTENT_PX * b.width);
      const h = Math.round((w * img.height) / img.width);
      return [
        new Paragraph({ alignment: AlignmentType.CENTER, keepNext: !!b.caption, spacing: { before: 80 }, children: [new ImageRun({ type: 'png', data: img.png, transformation: { width: w, height: h } })] }),
        ...(b.caption ? [new Paragraph({ alignment: AlignmentType.CENTER, spacing: { after: 160 }, children: [run(b.caption, { size: 17, color: '4A5568' })] })] : []),
      ];
    }
    case 'table': {
      const total = b.widths.reduce((s, w) => s + w, 0);
      const line = { style: BorderStyle.SINGLE, size: 4, color: 'CBD5E0' };
      const none = { style: BorderStyle.NONE, size: 0, color: 'FFFFFF' };
      const cell = (text: string, i: number, header: boolean) => new TableCell({
        width: { size: Math.round((b.widths[i] / total) * 100), type: WidthType.PERCENTAGE },
        shading: header ? { type: ShadingType.CLEAR, fill: 'EDF2F7', color: 'auto' } : undefined,
        margins: { top: 40, bottom: 40, left: 60, right: 60 },
        children: [new Paragraph({ alignment: ALIGN[b.align?.[i] ?? 'l'], children: [run(text, { bold: header, size: header ? 16 : 17 })] })],
      });
      return [new Table({
        width: { size: 100, type: WidthType.PERCENTAGE },
        borders: { top: line, bottom: line, left: none, right: none, insideHorizontal: line, insideVertical: none },
        rows: [
          new TableRow({ tableHeader: true, cantSplit: true, children: b.header.map((h, i) => cell(h, i, true)) }),
          ...b.rows.map((r) => new TableRow({ cantSplit: true, children: r.map((c, i) => cell(c, i, false)) })),
        ],
      }), new Paragraph({ spacing: { after: 60 }, children: [] })];
    }
  }
}

export async function renderDocx(doc: ReportDocument, generated: string): Promise<Buffer> {
  const pictures = doc.blocks.filter((b) => b.t === 'image');
  const rendered = await Promise.all(pictures.map((b) => rasteriseAsync(b.svg, 1.25)));
  const images = new Map<Block, Png>(pictures.map((b, i) => [b, rendered[i]]));
  lists = 0; // the blocks below are laid out synchronously: no other document interleaves
  const d = new Document({
    creator: 'МЦУ Hub',
    title: doc.title,
    description: doc.subtitle,
    numbering: { config: [{ reference: 'numbered', levels: [{ level: 0, format: LevelFormat.DECIMAL, text: '%1.', alignment: AlignmentType.LEFT,
      style: { paragraph: { indent: { left: 420, hanging: 300 } } } }] }] },
    styles: { default: { document: { run: { font: FONT, size: 21 } } } },
    sections: [{
      properties: { page: { margin: { top: 1134, bottom: 1134, left: 1134, right: 1134 } }, titlePage: true },
      headers: { default: new Header({ children: [new Paragraph({ children: [run(`${doc.title}. ${doc.subtitle}`, { size: 14, color: '718096' })] })] }) },
      footers: {
        default: new Footer({ children: [new Paragraph({ alignment: AlignmentType.RIGHT, children: [
          run(`${generated}    Стр. `, { size: 14, color: '718096' }),
          new TextRun({ children: [PageNumber.CURRENT], font: FONT, size: 14, color: '718096' }),
          run(' из ', { size: 14, color: '718096' }),
          new TextRun({ children: [PageNumber.TOTAL_PAGES], font: FONT, size: 14, color: '718096' }),
        ] })] }),
        first: new Footer({ children: [new Paragraph({ alignment: AlignmentType.RIGHT, children: [run(generated, { size: 14, color: '718096' })] })] }),
      },
      children: doc.blocks.flatMap((b) => nodes(b, images)),
    }],
  });
  return Packer.toBuffer(d);
}

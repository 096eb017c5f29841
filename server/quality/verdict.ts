import { registerEnumType } from 'type-graphql';

/** The verdict on an answer (its own module: the appeal filter uses it too). */
export enum AnswerVerdict {
  FORMAL = 'FORMAL',
  SUBSTANTIVE = 'SUBSTANTIVE',
}
registerEnumType(AnswerVerdict, { name: 'AnswerVerdict', description: 'FORMAL — отписка, SUBSTANTIVE — ответ по существу' });

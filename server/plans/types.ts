import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum PlanPeriodKind { QUARTER = 'QUARTER', YEAR = 'YEAR' }
registerEnumType(PlanPeriodKind, { name: 'PlanPeriodKind', description: 'План на квартал или на год' });

export enum PlanStatus { DRAFT = 'DRAFT', APPROVED = 'APPROVED', CLOSED = 'CLOSED' }
registerEnumType(PlanStatus, { name: 'PlanStatus', description: 'DRAFT — проект (готовит руководитель-координатор), APPROVED — утверждён куратором, CLOSED — закрыт' });

export enum PlanItemStatus { PLANNED = 'PLANNED', IN_PROGRESS = 'IN_PROGRESS', DONE = 'DONE', CANCELLED = 'CANCELLED' }
registerEnumType(PlanItemStatus, { name: 'PlanItemStatus', description: 'Состояние мероприятия плана' });

@ObjectType({ description: 'Мероприятие плана деятельности центра' })
export class PlanItem {
  @Field(() => ID) id!: string;
  @Field(() => Int, { description: 'Номер по порядку' }) position!: number;
  @Field() title!: string;
  @Field(() => String, { nullable: true, description: 'Ответственный исполнитель' }) responsible?: string | null;
  @Field(() => ID, { nullable: true, description: 'Ответственный тематический блок' }) blockId?: string | null;
  @Field(() => String, { nullable: true }) blockName?: string | null;
  @Field({ description: 'Срок исполнения, ГГГГ-ММ-ДД' }) dueDate!: string;
  @Field(() => ID, { nullable: true }) indicatorId?: string | null;
  @Field(() => String, { nullable: true }) indicatorName?: string | null;
  @Field(() => ID, { nullable: true }) problemId?: string | null;
  @Field(() => String, { nullable: true }) problemTitle?: string | null;
  @Field(() => PlanItemStatus) status!: PlanItemStatus;
  @Field(() => Int, { description: 'Ход исполнения, %' }) progress!: number;
  @Field(() => String, { nullable: true }) doneAt?: string | null;
  @Field(() => String, { nullable: true }) note?: string | null;
  @Field({ description: 'Срок прошёл, мероприятие не выполнено и не отменено' }) overdue!: boolean;
}

@ObjectType({ description: 'План деятельности МЦУ на период' })
export class ActivityPlan {
  @Field(() => ID) id!: string;
  @Field() title!: string;
  @Field(() => PlanPeriodKind) periodKind!: PlanPeriodKind;
  @Field() periodStart!: string;
  @Field() periodEnd!: string;
  @Field(() => PlanStatus) status!: PlanStatus;
  @Field({ description: 'Кто подготовил проект' }) draftedBy!: string;
  @Field(() => String, { nullable: true, description: 'Кто утвердил' }) approvedBy?: string | null;
  @Field(() => Date, { nullable: true }) approvedAt?: Date | null;
  @Field(() => Int) itemCount!: number;
  @Field(() => Int) doneCount!: number;
  @Field(() => Int) overdueCount!: number;
  @Field(() => Float, { description: 'Выполнение плана: доля выполненных мероприятий (без отменённых), %' }) completion!: number;
  @Field(() => [PlanItem]) items!: PlanItem[];
}

@InputType()
export class PlanInput {
  @Field() title!: string;
  @Field(() => PlanPeriodKind) periodKind!: PlanPeriodKind;
  @Field(() => Int) year!: number;
  @Field(() => Int, { nullable: true, description: 'Квартал 1–4 (для плана на квартал)' }) quarter?: number;
}

@InputType({ description: 'Мероприятие: ответственный исполнитель или блок обязателен, срок обязателен' })
export class PlanItemInput {
  @Field() title!: string;
  @Field({ nullable: true }) responsible?: string;
  @Field({ nullable: true, description: 'Код тематического блока' }) block?: string;
  @Field({ nullable: true, description: 'Срок исполнения, ГГГГ-ММ-ДД' }) dueDate?: string;
  @Field({ nullable: true, description: 'Код показателя' }) indicator?: string;
  @Field(() => ID, { nullable: true }) problemId?: string;
}

@InputType()
export class PlanItemProgressInput {
  @Field(() => PlanItemStatus) status!: PlanItemStatus;
  @Field(() => Int, { nullable: true }) progress?: number;
  @Field({ nullable: true }) note?: string;
}

import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';

export enum RecommendationStatus { PROPOSED = 'PROPOSED', ACCEPTED = 'ACCEPTED', REJECTED = 'REJECTED' }
registerEnumType(RecommendationStatus, { name: 'RecommendationStatus', description: 'PROPOSED — предложена, ACCEPTED — принята (возможно, с правкой текста), REJECTED — отклонена' });
export enum RecommendationDecision { ACCEPT = 'ACCEPT', REJECT = 'REJECT' }
registerEnumType(RecommendationDecision, { name: 'RecommendationDecision', description: 'Решение координатора по рекомендации' });

@ObjectType({ description: 'Порог правила: ключ, смысл, границы' })
export class RecommendationThresholdSpec {
  @Field() key!: string;
  @Field() label!: string;
  @Field(() => Float) min!: number;
  @Field(() => Float) max!: number;
  @Field() integer!: boolean;
}

@ObjectType({ description: 'Правило рекомендаций: что считает, пороги (редактируются), объяснение' })
export class RecommendationRule {
  @Field() code!: string;
  @Field() label!: string;
  @Field() explanation!: string;
  @Field() enabled!: boolean;
  @Field(() => GraphQLJSONObject, { description: 'Действующие пороги' }) thresholds!: Record<string, number>;
  @Field(() => GraphQLJSONObject, { description: 'Пороги по умолчанию' }) defaults!: Record<string, number>;
  @Field(() => [RecommendationThresholdSpec], { description: 'Что означает каждый порог и его допустимые значения' }) specs!: RecommendationThresholdSpec[];
}

@ObjectType({ description: 'Рекомендация: текст с цифрами из данных, цифры и доказательства (обращения)' })
export class Recommendation {
  @Field(() => ID) id!: string;
  @Field() ruleCode!: string;
  @Field() ruleLabel!: string;
  @Field({ description: 'О ком: o:<организация>, d:<район>, t:<тема>, p:<проблема>' }) subjectKey!: string;
  @Field() periodFrom!: string;
  @Field() periodTo!: string;
  @Field({ description: 'Текст, составленный правилом (только цифры из данных)' }) text!: string;
  @Field(() => String, { nullable: true, description: 'Текст после правки координатором' }) editedText!: string | null;
  @Field(() => GraphQLJSONObject, { description: 'Цифры, на которые ссылается текст' }) figures!: Record<string, unknown>;
  @Field(() => GraphQLJSONObject, { description: 'Пороги правила на момент расчёта' }) thresholds!: Record<string, unknown>;
  @Field(() => [ID], { description: 'Обращения-доказательства (до 50)' }) evidenceAppealIds!: string[];
  @Field(() => ID, { nullable: true }) organizationId!: string | null;
  @Field(() => ID, { nullable: true }) districtId!: string | null;
  @Field(() => ID, { nullable: true }) themeId!: string | null;
  @Field(() => ID, { nullable: true }) problemId!: string | null;
  @Field(() => RecommendationStatus) status!: RecommendationStatus;
  @Field(() => String, { nullable: true }) decidedBy!: string | null;
  @Field(() => Date, { nullable: true }) decidedAt!: Date | null;
  @Field(() => String, { nullable: true }) comment!: string | null;
}

@ObjectType({ description: 'Обращение-доказательство рекомендации' })
export class RecommendationEvidence {
  @Field(() => ID) id!: string;
  @Field() receivedAt!: Date;
  @Field(() => String, { nullable: true }) address!: string | null;
  @Field() text!: string;
  @Field() status!: string;
  @Field(() => String, { nullable: true }) themeName!: string | null;
}

@ObjectType()
export class RecommendationEdge { @Field() cursor!: string; @Field(() => Recommendation) node!: Recommendation }

@ObjectType()
export class RecommendationConnection {
  @Field(() => [RecommendationEdge]) edges!: RecommendationEdge[];
  @Field(() => Int) totalCount!: number;
  @Field() hasNextPage!: boolean;
  @Field(() => String, { nullable: true }) endCursor!: string | null;
}

@InputType()
export class RecommendationFilter {
  @Field(() => [RecommendationStatus], { nullable: true }) statuses?: RecommendationStatus[];
  @Field(() => [String], { nullable: true }) ruleCodes?: string[];
  @Field(() => [ID], { nullable: true }) organizationIds?: string[];
}

@ObjectType({ description: 'Итог расчёта рекомендаций' })
export class RecommendationRun {
  @Field() periodFrom!: string;
  @Field() periodTo!: string;
  @Field(() => Int) created!: number;
  @Field(() => Int) updated!: number;
  @Field(() => [String]) notes!: string[];
}

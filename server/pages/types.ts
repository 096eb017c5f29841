import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { PageInfo } from '../graphql/relay.js';

export enum PagePlatform { VK = 'VK', OK = 'OK', TELEGRAM = 'TELEGRAM', MAX = 'MAX', WEBSITE = 'WEBSITE' }
registerEnumType(PagePlatform, { name: 'PagePlatform', description: 'Площадка официальной страницы: ВКонтакте, Одноклассники, Telegram, MAX, сайт' });

export enum PageFileKind { PAGES = 'pages', STATS = 'stats', COMMENTS = 'comments' }
registerEnumType(PageFileKind, { name: 'PageFileKind', description: 'Вид файла: реестр страниц, статистика по месяцам, комментарии с ответами' });

export enum PageFileFormat { csv = 'csv', xlsx = 'xlsx' }
registerEnumType(PageFileFormat, { name: 'PageFileFormat' });

export enum PageCheckStatus { PASS = 'PASS', FAIL = 'FAIL', NO_DATA = 'NO_DATA', NOT_APPLICABLE = 'NOT_APPLICABLE' }
registerEnumType(PageCheckStatus, { name: 'PageCheckStatus', description: 'Итог проверки: выполнено, не выполнено, нет данных, не применяется' });

@ObjectType({ description: 'Категория официальных страниц с целевыми показателями' })
export class PageCategory {
  @Field(() => ID) id!: number;
  @Field() code!: string;
  @Field() name!: string;
  @Field(() => String, { nullable: true }) description!: string | null;
  @Field(() => Int) sortOrder!: number;
  @Field(() => Float, { nullable: true, description: 'Публикаций в неделю, не меньше' }) minPostsPerWeek!: number | null;
  @Field(() => Float, { nullable: true, description: 'Медиана ответа на комментарий, рабочих часов, не больше' }) maxReplyHours!: number | null;
  @Field(() => Float, { nullable: true, description: 'Доля комментариев с ответом (0…1), не меньше' }) minAnsweredShare!: number | null;
  @Field(() => Float, { nullable: true, description: 'ER на публикацию, %, не меньше' }) minErPost!: number | null;
  @Field(() => Float, { nullable: true, description: 'ER за месяц, %, не меньше' }) minErMonth!: number | null;
  @Field(() => Float, { nullable: true, description: 'Подписчики / население (0…1), не меньше' }) minReachShare!: number | null;
  @Field() requireVerified!: boolean;
  @Field() requirePosWidget!: boolean;
  @Field() requireOpenComments!: boolean;
  @Field() requireDesign!: boolean;
}

@InputType()
export class PageCategoryInput {
  @Field() code!: string;
  @Field() name!: string;
  @Field(() => String, { nullable: true }) description?: string | null;
  @Field(() => Int, { nullable: true }) sortOrder?: number | null;
  @Field(() => Float, { nullable: true }) minPostsPerWeek?: number | null;
  @Field(() => Float, { nullable: true }) maxReplyHours?: number | null;
  @Field(() => Float, { nullable: true }) minAnsweredShare?: number | null;
  @Field(() => Float, { nullable: true }) minErPost?: number | null;
  @Field(() => Float, { nullable: true }) minErMonth?: number | null;
  @Field(() => Float, { nullable: true }) minReachShare?: number | null;
  @Field(() => Boolean, { nullable: true }) requireVerified?: boolean | null;
  @Field(() => Boolean, { nullable: true }) requirePosWidget?: boolean | null;
  @Field(() => Boolean, { nullable: true }) requireOpenComments?: boolean | null;
  @Field(() => Boolean, { nullable: true }) requireDesign?: boolean | null;
}

@ObjectType({ description: 'Официальная страница (госпаблик) организации' })
export class OfficialPage {
  @Field(() => ID) id!: number;
  organizationId!: number;
  categoryId!: number;
  @Field(() => PagePlatform) platform!: PagePlatform;
  @Field() url!: string;
  @Field() name!: string;
  @Field(() => String, { nullable: true, description: 'Ответственный за ведение' }) responsible!: string | null;
  @Field({ description: 'Отметка «Госорганизация» (верификация)' }) verified!: boolean;
  @Field({ description: 'Виджет ПОС размещён' }) posWidget!: boolean;
  @Field(() => String, { nullable: true }) posWidgetUrl!: string | null;
  @Field() commentsOpen!: boolean;
  @Field() hasCover!: boolean;
  @Field() hasDescription!: boolean;
  @Field(() => String, { nullable: true, description: 'ОГРН организации (для проверки ссылки виджета ПОС)' }) ogrn!: string | null;
  @Field() active!: boolean;
  @Field() createdAt!: Date;
  @Field() updatedAt!: Date;
}

@InputType()
export class OfficialPageInput {
  @Field(() => ID) organizationId!: string;
  @Field(() => PagePlatform) platform!: PagePlatform;
  @Field() url!: string;
  @Field(() => String, { nullable: true }) name?: string | null;
  @Field(() => ID) categoryId!: string;
  @Field(() => String, { nullable: true }) responsible?: string | null;
  @Field(() => Boolean, { nullable: true }) verified?: boolean | null;
  @Field(() => Boolean, { nullable: true }) posWidget?: boolean | null;
  @Field(() => String, { nullable: true }) posWidgetUrl?: string | null;
  @Field(() => Boolean, { nullable: true }) commentsOpen?: boolean | null;
  @Field(() => Boolean, { nullable: true }) hasCover?: boolean | null;
  @Field(() => Boolean, { nullable: true }) hasDescription?: boolean | null;
  @Field(() => String, { nullable: true }) ogrn?: string | null;
  @Field(() => Boolean, { nullable: true }) active?: boolean | null;
}

@InputType()
export class OfficialPageFilter {
  @Field(() => [ID], { nullable: true }) organizationIds?: string[] | null;
  @Field(() => [PagePlatform], { nullable: true }) platforms?: PagePlatform[] | null;
  @Field(() => [ID], { nullable: true }) categoryIds?: string[] | null;
  @Field(() => String, { nullable: true, description: 'Поиск по названию, адресу, ответственному' }) text?: string | null;
  @Field(() => Boolean, { nullable: true }) active?: boolean | null;
}

@ObjectType({ description: 'Проверка страницы за месяц по целевому показателю категории' })
export class PageCheck {
  @Field() code!: string;
  @Field() label!: string;
  @Field(() => PageCheckStatus) status!: PageCheckStatus;
  @Field(() => Float, { nullable: true }) figure!: number | null;
  @Field(() => Float, { nullable: true }) target!: number | null;
  @Field() unit!: string;
  @Field({ description: 'MIN — не меньше цели, MAX — не больше' }) direction!: string;
  @Field(() => Int) weight!: number;
  @Field(() => Float) points!: number;
  @Field(() => String, { nullable: true }) note?: string;
}

@ObjectType({ description: 'Страница за месяц: показатели, проверки, балл' })
export class PageMonthResult {
  pageId!: number;
  organizationId!: number;
  @Field({ description: 'ГГГГ-ММ' }) month!: string;
  @Field(() => Float, { description: 'Балл 0…100' }) score!: number;
  @Field(() => Int, { description: 'Не выполнено проверок' }) failed!: number;
  @Field(() => Int, { nullable: true, description: 'Место среди страниц за месяц (в рейтинге)' }) rank?: number;
  @Field(() => Int) posts!: number;
  @Field(() => Float) views!: number;
  @Field(() => Int) likes!: number;
  @Field(() => Int) reposts!: number;
  @Field(() => Int) comments!: number;
  @Field(() => Int) subscribers!: number;
  @Field(() => Int, { nullable: true }) reach!: number | null;
  @Field(() => [PageCheck]) checks!: PageCheck[];
}

@ObjectType()
export class CheckShare {
  @Field() code!: string;
  @Field() label!: string;
  @Field(() => Float, { description: 'Доля страниц, выполнивших проверку (0…1)' }) share!: number;
}

@ObjectType({ description: 'Организация по её официальным страницам за месяц' })
export class OrgPageScore {
  organizationId!: number;
  @Field() month!: string;
  @Field(() => Float, { description: 'Средний балл страниц 0…100 (пишется в org_indicator_value как official_pages_score)' }) score!: number;
  @Field(() => Int) pages!: number;
  @Field(() => Int) failedChecks!: number;
  @Field(() => Int) rank!: number;
  @Field(() => [CheckShare]) breakdown!: CheckShare[];
}

@ObjectType({ description: 'Рейтинг официальных страниц и организаций за месяц' })
export class PageRating {
  @Field() month!: string;
  @Field(() => [PageMonthResult]) pages!: PageMonthResult[];
  @Field(() => [OrgPageScore]) organizations!: OrgPageScore[];
}

@ObjectType()
export class OfficialPageEdge {
  @Field() cursor!: string;
  @Field(() => OfficialPage) node!: OfficialPage;
}

@ObjectType()
export class OfficialPageConnection {
  @Field(() => [OfficialPageEdge]) edges!: OfficialPageEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  @Field(() => Int) totalCount!: number;
}

@ObjectType()
export class PageImportIssue {
  @Field(() => Int) line!: number;
  @Field() field!: string;
  @Field() severity!: string;
  @Field() reason!: string;
}

@ObjectType({ description: 'Итог загрузки файла официальных страниц: DONE — записан целиком, REJECTED — есть ошибки, ничего не изменено' })
export class PageImportReportType {
  @Field(() => PageFileKind) kind!: PageFileKind;
  @Field() status!: string;
  @Field(() => Int) read!: number;
  @Field(() => Int) inserted!: number;
  @Field(() => Int) updated!: number;
  @Field(() => Int) deleted!: number;
  @Field(() => [String]) months!: string[];
  @Field(() => [PageImportIssue]) issues!: PageImportIssue[];
}

@ObjectType()
export class PageRecomputeResult {
  @Field(() => Int) months!: number;
  @Field(() => Int) organizations!: number;
  @Field(() => Int) pages!: number;
  @Field(() => Float) ms!: number;
}

@ObjectType()
export class CommentsToAppealsResult {
  @Field(() => Int, { description: 'Комментариев-вопросов и жалоб, переданных в приём' }) comments!: number;
  @Field(() => Int) inserted!: number;
  @Field(() => Int) updated!: number;
  @Field(() => Int) rejected!: number;
  @Field(() => ID, { nullable: true }) batchId!: number | null;
}

@ObjectType()
export class VkSyncResult {
  @Field(() => PageImportReportType) stats!: PageImportReportType;
  @Field(() => PageImportReportType, { nullable: true }) comments!: PageImportReportType | null;
}

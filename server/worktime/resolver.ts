import { Arg, Authorized, Ctx, Field, Float, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import type { Context } from '../graphql/context.js';
import { InputError } from '../errors.js';
import { READERS, REFERENCE_EDITORS } from '../auth/roles.js';
import { parseCalendarXml, MAX_CALENDAR_BYTES } from './calendar.js';
import { calendarDays, calendarYears, importCalendarYear, loadWorkTime, setWorkingHours, workingHoursOf } from './store.js';
import type { WorkingHours } from './worktime.js';

@ObjectType({ description: 'Особый день производственного календаря' })
export class CalendarDayView {
  @Field({ description: 'Дата, ГГГГ-ММ-ДД' }) date!: string;
  @Field({ description: 'HOLIDAY — выходной/праздник, SHORT — сокращённый предпраздничный, WORKDAY — рабочий выходной' }) kind!: string;
  @Field(() => String, { nullable: true }) holiday!: string | null;
  @Field(() => String, { nullable: true, description: 'Откуда перенесён выходной' }) movedFrom!: string | null;
}

@ObjectType({ description: 'Год производственного календаря' })
export class CalendarYearView {
  @Field(() => Int) year!: number;
  @Field() source!: string;
  @Field() importedAt!: Date;
  @Field() importedBy!: string;
  @Field(() => Int, { description: 'Рабочих дней в году (по календарю и расписанию администрации)' }) workingDays!: number;
  @Field(() => Float, { description: 'Рабочих часов в году' }) workingHours!: number;
  @Field(() => [CalendarDayView], { description: 'Дни, отличные от обычной недели' }) days!: CalendarDayView[];
}

@ObjectType({ description: 'Итог загрузки года производственного календаря' })
export class CalendarImportReport {
  @Field(() => Int) year!: number;
  @Field(() => Int) days!: number;
  @Field(() => Int) holidays!: number;
  @Field(() => Int) shortened!: number;
  @Field(() => Int) workingWeekends!: number;
  @Field(() => Int) workingDays!: number;
  @Field({ description: 'Год был и заменён' }) replaced!: boolean;
}

@ObjectType({ description: 'Режим работы администрации' })
export class WorkingHoursView {
  @Field({ description: 'Часовой пояс (IANA)' }) timezone!: string;
  @Field(() => GraphQLJSONObject, { description: '{"week": {"1": ["08:00-12:00", "12:48-17:00"], …, "7": []}, "movedWorkdayAs": 1, "shortenedMinutes": 60}' })
  hours!: WorkingHours;
}

@Resolver()
export class WorkTimeResolver {
  @Authorized(READERS)
  @Query(() => [CalendarYearView], { description: 'Годы производственного календаря (years — только эти)' })
  async productionCalendar(@Ctx() ctx: Context, @Arg('years', () => [Int], { nullable: true }) years?: number[]): Promise<CalendarYearView[]> {
    if (years && years.length > 20) throw new InputError('years', 'не более 20 лет');
    const all = (await calendarYears(ctx.em)).filter((y) => !years || years.includes(y.year));
    const wt = await loadWorkTime(ctx.em, ctx.municipalityId);
    return Promise.all(all.map(async (y) => {
      let workingDays = 0;
      let minutes = 0;
      for (let d = Date.UTC(y.year, 0, 1); d < Date.UTC(y.year + 1, 0, 1); d += 86_400_000) {
        const m = wt.workingMinutesOfDay(new Date(d).toISOString().slice(0, 10));
        if (m > 0) { workingDays++; minutes += m; }
      }
      const days = (await calendarDays(ctx.em, y.year)).map((d) => ({ date: d.date, kind: d.kind, holiday: d.holiday, movedFrom: d.moved_from }));
      return { ...y, workingDays, workingHours: minutes / 60, days };
    }));
  }

  @Authorized(READERS)
  @Query(() => WorkingHoursView)
  workingHours(@Ctx() ctx: Context): Promise<WorkingHoursView> {
    return workingHoursOf(ctx.em, ctx.municipalityId);
  }

  @Authorized(REFERENCE_EDITORS)
  @Mutation(() => CalendarImportReport, { description: 'Загрузить год производственного календаря (XML xmlcalendar: <calendar year><days><day d="ММ.ДД" t="1|2|3"/>). Год заменяется целиком; ошибка — ничего не меняется. Аудит' })
  async importProductionCalendar(@Ctx() ctx: Context, @Arg('xml') xml: string, @Arg('source', () => String, { nullable: true }) source?: string): Promise<CalendarImportReport> {
    if (xml.length > MAX_CALENDAR_BYTES) throw new InputError('xml', `файл календаря больше ${MAX_CALENDAR_BYTES / 1_000_000} МБ`);
    const name = (source ?? 'calendar.xml').slice(0, 200);
    const cal = parseCalendarXml(xml, name);
    return importCalendarYear(ctx.em, ctx, cal, `GraphQL: ${name}`);
  }

  @Authorized(REFERENCE_EDITORS)
  @Mutation(() => WorkingHoursView, { description: 'Режим работы администрации и часовой пояс муниципалитета. Аудит' })
  async setWorkingHours(@Ctx() ctx: Context, @Arg('hours', () => GraphQLJSONObject) hours: WorkingHours, @Arg('timezone', () => String, { nullable: true }) timezone?: string): Promise<WorkingHoursView> {
    await setWorkingHours(ctx.em, ctx, hours, timezone ?? undefined);
    return workingHoursOf(ctx.em, ctx.municipalityId);
  }
}

export const workTimeResolvers = [WorkTimeResolver] as const;

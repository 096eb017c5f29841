import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { runWithDatabase } from './database.js';
import { UserService } from '../auth/users.js';
import { ALL_ROLES, isRole } from '../auth/roles.js';
import { audit } from '../audit/audit.js';
import { anonymiseClosedAppealAuthors } from '../auth/retention.js';
import { loadAuthConfig } from '../auth/config.js';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';

/**
 * Accounts and personal-data retention from the command line (the first admin is created here):
 *   npm run user:create -- --login admin --role ADMIN [--name "ФИО"] [--organization код] [--block код]
 *   npm run user:password -- --login admin        (new password)
 *   npm run user:unlock -- --login admin          (clear the lock-out)
 *   npm run user:list
 *   npm run pd:retention -- [--days 1826] [--dry-run]
 * The password comes from MCU_PASSWORD or is asked for on the terminal (not echoed, typed twice).
 */
const USAGE = `Использование:
  npm run user:create -- --login ЛОГИН --role РОЛЬ [--name "ФИО"] [--organization КОД] [--block КОД]
  npm run user:password -- --login ЛОГИН
  npm run user:unlock -- --login ЛОГИН
  npm run user:list
  npm run pd:retention -- [--days ДНЕЙ] [--dry-run]
Роли: ${ALL_ROLES.join(', ')}. Пароль — из переменной MCU_PASSWORD или вводится с клавиатуры.`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    login: { type: 'string' },
    role: { type: 'string' },
    name: { type: 'string' },
    organization: { type: 'string' },
    block: { type: 'string' },
    days: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
  },
});
const command = positionals[0];

/** Asks for the password twice on the terminal, without echo (one readline for both prompts: typed-ahead lines are kept). */
async function askPassword(): Promise<string> {
  if (!process.stdin.isTTY) throw new Error('пароль не задан: укажите MCU_PASSWORD или запустите команду в терминале');
  let muted = false;
  const output = new Writable({ write(chunk, _enc, cb) { if (!muted) process.stdout.write(chunk); cb(); } });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  const question = (prompt: string) => new Promise<string>((resolve) => {
    muted = false;
    rl.question(prompt, (answer) => {
      muted = false;
      process.stdout.write('\n');
      resolve(answer);
    });
    muted = true;
  });
  try {
    const a = await question('Пароль: ');
    const b = await question('Пароль ещё раз: ');
    if (a !== b) throw new Error('пароли не совпадают');
    return a;
  } finally {
    rl.close();
  }
}

async function password(): Promise<string> {
  return process.env.MCU_PASSWORD ?? askPassword();
}

function need(name: 'login' | 'role'): string {
  const v = values[name];
  if (!v) {
    console.error(`Не указан --${name}\n${USAGE}`);
    process.exit(2);
  }
  return v;
}

const system = (municipalityId: number) => ({ municipalityId, actor: `cli:${process.env.USER ?? 'unknown'}` });
const message = (e: unknown) => (e instanceof InputError ? `${e.field}: ${e.message.replace(/^[^:]+: /, '')}` : (e as Error).message);

if (!['create', 'password', 'unlock', 'list', 'retention'].includes(command)) {
  console.error(USAGE);
  process.exit(2);
}
if (command === 'create') {
  const role = need('role').toUpperCase();
  if (!isRole(role)) {
    console.error(`--role: неизвестная роль «${role}»; допустимы: ${ALL_ROLES.join(', ')}`);
    process.exit(2);
  }
}

// The password is asked before the database opens (that can take a while), so the prompt comes at once.
let newPassword: string | undefined;
if (command === 'create' || command === 'password') {
  need('login');
  try {
    newPassword = await password();
  } catch (e) {
    console.error(`Ошибка: ${(e as Error).message}`);
    process.exit(2);
  }
}

const code = await runWithDatabase(async ({ em, municipalityId }) => {
  try {
    const users = new UserService(em, municipalityId);
    if (command === 'list') {
      for (const u of await users.list()) {
        const state = !u.active ? 'отключена' : u.lockedUntil && u.lockedUntil > new Date() ? `заблокирована до ${u.lockedUntil.toISOString()}` : 'активна';
        console.log(`${u.login.padEnd(20)} ${u.role.padEnd(12)} ${u.displayName}  (${state}${u.demo ? ', демо' : ''})`);
      }
      return 0;
    }
    if (command === 'retention') {
      const days = values.days != null ? Number(values.days) : loadAuthConfig().retentionDays;
      if (!Number.isInteger(days) || days < 1) throw new Error(`--days: ожидается целое число дней ≥ 1, получено «${values.days}»`);
      const r = await anonymiseClosedAppealAuthors(em, municipalityId, { days, dryRun: values['dry-run'] });
      console.log(`${values['dry-run'] ? 'Будет обезличено' : 'Обезличено'}: авторов — ${r.authors}, обращений — ${r.appeals} (закрыты до ${r.cutoff.toISOString().slice(0, 10)}, срок ${days} дн.)`);
      return 0;
    }
    const login = need('login');
    if (command === 'create') {
      const u = await em.transactional(async (tem) => {
        const created = await new UserService(tem, municipalityId).create({
          login, role: need('role').toUpperCase(), displayName: values.name, password: newPassword!, organization: values.organization, thematicBlock: values.block,
        }, '--');
        await audit(tem, system(municipalityId), { entity: 'user', entityId: created.id, action: 'create', before: null,
          after: { login: created.login, displayName: created.displayName, role: created.role, organizationId: created.organizationId, thematicBlockId: created.thematicBlockId } });
        return created;
      });
      console.log(`Создана учётная запись ${u.login} (${u.role}, ${u.displayName})`);
      return 0;
    }
    const u = await users.byLogin(login);
    if (!u || u.municipalityId !== municipalityId) throw new Error(`пользователь «${login}» не найден`);
    if (command === 'password') {
      const p = newPassword!;
      await em.transactional(async (tem) => {
        await new UserService(tem, municipalityId).setPassword(u.id, p, '--password');
        await query(tem, 'UPDATE user_session SET revoked_at = now() WHERE user_id = ? AND revoked_at IS NULL', [u.id]);
        await audit(tem, system(municipalityId), { entity: 'user', entityId: u.id, action: 'set_password', before: null, after: null });
      });
      console.log(`Пароль ${u.login} изменён; его сеансы завершены`);
    } else {
      await em.transactional(async (tem) => {
        await new UserService(tem, municipalityId).unlock(u.id);
        await audit(tem, system(municipalityId), { entity: 'user', entityId: u.id, action: 'unlock', before: { lockedUntil: u.lockedUntil }, after: { lockedUntil: null } });
      });
      console.log(`Блокировка ${u.login} снята`);
    }
    return 0;
  } catch (e) {
    throw new Error(message(e));
  }
}, 'Ошибка');
process.exit(code);

// Session of the web client: who is signed in, sign-out, the user bar, and what the role may see.
export type Role = 'ADMIN' | 'CURATOR' | 'COORDINATOR' | 'BLOCK_LEAD' | 'WORKER' | 'ORG_OFFICER' | 'ANALYST' | 'REGION_ANALYST' | 'REGION_CURATOR';

export interface Me {
  id: number;
  login: string;
  displayName: string;
  role: Role;
  roleLabel: string;
}

/** Roles that process appeals: they see authors' personal data (each read is logged by the server). */
const PROCESSORS: Role[] = ['CURATOR', 'COORDINATOR', 'BLOCK_LEAD', 'WORKER', 'ORG_OFFICER'];
const IMPORTERS: Role[] = ['CURATOR', 'COORDINATOR', 'WORKER'];
const APPEAL_EDITORS: Role[] = ['CURATOR', 'COORDINATOR', 'BLOCK_LEAD', 'WORKER'];
const REFERENCE_EDITORS: Role[] = ['ADMIN', 'CURATOR', 'COORDINATOR'];

export const can = {
  seePersonalData: (me: Me) => PROCESSORS.includes(me.role),
  importAppeals: (me: Me) => IMPORTERS.includes(me.role),
  editAppeals: (me: Me) => APPEAL_EDITORS.includes(me.role),
  editReference: (me: Me) => REFERENCE_EDITORS.includes(me.role),
};

/** Regional roles (ЦУР): every municipality of the region, read-only; their start page is /region.html. */
export function isRegionRole(me: Me): boolean {
  return me.role === 'REGION_ANALYST' || me.role === 'REGION_CURATOR';
}

/** Sends the browser to the sign-in page, coming back here afterwards. */
export function toLogin(): void {
  const next = location.pathname + location.search;
  location.replace(`/login.html?next=${encodeURIComponent(next)}`);
}

/** The signed-in user; without a session the page goes to the sign-in page (and this never resolves). */
export async function requireSession(): Promise<Me> {
  const res = await fetch('/auth/me', { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (res.status === 401) {
    toLogin();
    return new Promise<Me>(() => undefined);
  }
  if (!res.ok) throw new Error(`не удалось проверить вход (HTTP ${res.status})`);
  return ((await res.json()) as { user: Me }).user;
}

export async function signOut(): Promise<void> {
  await fetch('/auth/logout', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: '{}' }).catch(() => undefined);
  location.replace('/login.html');
}

/** «ФИО · роль · Выйти» in the given container. */
export function mountUserBar(container: HTMLElement, me: Me): void {
  container.replaceChildren();
  const who = document.createElement('span');
  who.className = 'user-name';
  who.id = 'user-name';
  who.textContent = me.displayName;
  const role = document.createElement('span');
  role.className = 'user-role';
  role.id = 'user-role';
  role.textContent = me.roleLabel;
  const out = document.createElement('button');
  out.type = 'button';
  out.id = 'sign-out';
  out.className = 'user-signout';
  out.textContent = 'Выйти';
  out.addEventListener('click', () => void signOut());
  container.append(who, ' · ', role, ' ', out);
  container.hidden = false;
}

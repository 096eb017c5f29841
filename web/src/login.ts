import './login.css';
import { safeNextPath } from './next-path';

const form = document.getElementById('login-form') as HTMLFormElement;
const errorBox = document.getElementById('login-error') as HTMLDivElement;
const submit = document.getElementById('login-submit') as HTMLButtonElement;

/** Only a path of this site (no open redirect): see next-path.ts. */
function nextPath(): string {
  return safeNextPath(new URLSearchParams(location.search).get('next'), location.origin);
}

function showError(message: string) {
  errorBox.textContent = message;
  errorBox.hidden = false;
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  errorBox.hidden = true;
  const login = (document.getElementById('login') as HTMLInputElement).value.trim();
  const password = (document.getElementById('password') as HTMLInputElement).value;
  if (!login) return showError('Введите логин');
  if (!password) return showError('Введите пароль');
  submit.disabled = true;
  submit.textContent = 'Вход…';
  try {
    const res = await fetch('/auth/login', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ login, password }),
    });
    const body = (await res.json().catch(() => ({}))) as { token?: string; errors?: { message: string }[] };
    if (!res.ok || !body.token) {
      showError(body.errors?.[0]?.message ?? `Вход не выполнен (HTTP ${res.status})`);
      (document.getElementById('password') as HTMLInputElement).value = '';
      return;
    }
    location.replace(nextPath());
  } catch {
    showError('Сервер недоступен');
  } finally {
    submit.disabled = false;
    submit.textContent = 'Войти';
  }
});

// Already signed in: go straight on.
fetch('/auth/me', { credentials: 'same-origin' }).then((r) => { if (r.ok) location.replace(nextPath()); }).catch(() => undefined);

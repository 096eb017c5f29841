// The count of NEW information-risk signals on the main page's link, refreshed every 30 s (live, without reload).
import { gql } from './api';

export function mountRiskBadge(link: HTMLElement | null, intervalMs = 30_000): void {
  if (!link) return;
  const badge = document.createElement('span');
  badge.id = 'risk-badge';
  badge.className = 'risk-badge';
  badge.hidden = true;
  badge.setAttribute('aria-label', 'новых сигналов');
  link.appendChild(badge);
  const refresh = async () => {
    try {
      const { newRiskSignalCount: n } = await gql<{ newRiskSignalCount: number }>('{ newRiskSignalCount }');
      badge.textContent = String(n);
      badge.hidden = n === 0;
      link.title = n ? `Новых сигналов: ${n}` : 'Новых сигналов нет';
    } catch { /* the next poll retries */ }
  };
  void refresh();
  setInterval(() => void refresh(), intervalMs);
}

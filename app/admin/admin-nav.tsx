'use client';
// The header of every admin page: its title, the admin pages (the current one
// marked for screen readers too), the roster, who is signed in, and sign-out.
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { signOut } from '../lib/use-session-user';
import styles from './admin.module.css';

const PAGES = [
  { href: '/admin/users', label: 'Users' },
  { href: '/admin/teams', label: 'Teams' },
  { href: '/admin/audit', label: 'Audit log' },
  { href: '/admin/keys', label: 'API keys' },
  { href: '/roster', label: 'Roster' },
  { href: '/reports', label: 'Reports' },
] as const;

export function AdminHeader({ title, userName }: { title: string; userName: string }) {
  const path = usePathname();
  return (
    <header className="bar">
      <h1>{title}</h1>
      <nav aria-label="Admin" className={styles.nav}>
        {PAGES.map((page) => (
          <Link key={page.href} href={page.href} aria-current={path === page.href ? 'page' : undefined}>
            {page.label}
          </Link>
        ))}
      </nav>
      <span className="muted">{userName}</span>
      <button className="secondary" onClick={() => void signOut()}>
        Sign out
      </button>
    </header>
  );
}

/** A failed call's message (the server's names the field), for a role="alert" line. */
export function messageOf(error: unknown, fallback: string): string {
  return error instanceof Error && error.message ? error.message : fallback;
}

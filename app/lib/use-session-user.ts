'use client';
import { useRouter } from 'next/navigation';
import { useEffect, useState } from 'react';
import { trpc } from './trpc';

type User = { id: string; name: string; email: string; role: 'agent' | 'supervisor' | 'admin' };

/** The signed-in user, once known; sends anyone else to /login (or a role's own page). */
export function useSessionUser(allowed: ReadonlyArray<User['role']>): User | undefined {
  const router = useRouter();
  const [user, setUser] = useState<User>();
  useEffect(() => {
    trpc()
      .auth.me.query()
      .then(({ user }) => {
        if (!user) router.replace('/login');
        else if (!allowed.includes(user.role)) router.replace(user.role === 'agent' ? '/agent' : '/roster');
        else setUser(user);
      })
      .catch(() => router.replace('/login'));
    // `allowed` is a constant per page.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [router]);
  return user;
}

export async function signOut(options: { everywhere?: boolean } = {}): Promise<void> {
  if (options.everywhere) await trpc().auth.logoutEverywhere.mutate();
  else await trpc().auth.logout.mutate();
  // A full load drops this tab's WebSocket, which carried the old session.
  window.location.assign('/login');
}

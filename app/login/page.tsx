'use client';
// Sign-in. A signed-in visitor goes straight to their page: agents to /agent,
// supervisors and admins to /roster.
import { useRouter } from 'next/navigation';
import { useEffect, useState, type FormEvent } from 'react';
import { trpc } from '../lib/trpc';

const home = (role: string) => (role === 'agent' ? '/agent' : '/roster');

export default function LoginPage() {
  const router = useRouter();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    trpc()
      .auth.me.query()
      .then(({ user }) => user && router.replace(home(user.role)))
      .catch(() => {});
  }, [router]);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(undefined);
    try {
      const { user } = await trpc().auth.login.mutate({
        email: String(form.get('email')),
        password: String(form.get('password')),
      });
      router.replace(home(user.role));
    } catch (err) {
      setError(err instanceof Error ? err.message : 'Sign-in failed');
      setBusy(false);
    }
  }

  return (
    <main>
      <form className="login card" onSubmit={submit} aria-label="Sign in">
        <h1>Switchboard</h1>
        <label>
          Email
          <input name="email" type="email" autoComplete="username" required />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required />
        </label>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}

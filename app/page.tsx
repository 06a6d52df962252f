import { redirect } from 'next/navigation';

// The login page sends a signed-in user on to their own page.
export default function Home() {
  redirect('/login');
}

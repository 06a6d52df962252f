import type { Metadata } from 'next';
import type { ReactNode } from 'react';
import './globals.css';

// Every page renders per request: its scripts carry that request's CSP nonce
// (server/security/headers.ts); a prerendered page would carry none and not run.
export const dynamic = 'force-dynamic';

export const metadata: Metadata = {
  title: 'Switchboard',
  description: 'Who is available, on which devices, right now',
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}

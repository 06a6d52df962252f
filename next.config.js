// Next.js serves the pages only; /api/trpc is served by server/main.ts itself.
/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // The custom server type-checks and lints the whole tree in `npm test`; the
  // build does not need to repeat it.
  typescript: { ignoreBuildErrors: true },
};

export default nextConfig;

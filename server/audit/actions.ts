// The actions the audit log records, one name per kind of change
// (`<target>.<verb>`). Apart from log.ts, with no imports, so that the admin
// pages can list them without pulling the database code into the browser.
export const AUDIT_ACTIONS = [
  'presence.force',
  'key.create',
  'key.revoke',
  'webhook.set',
  'user.create',
  'user.update',
  'user.password_reset',
  'team.create',
  'team.rename',
  'team.delete',
  'member.set',
  'member.remove',
  'skills.set',
  'capacity.set',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

-- A chosen or imposed status in one statement (decision 020). The status rule
-- is server/presence/aggregate.ts; sb_aggregate is the same rule for the
-- database, and server/presence/aggregate-sql.test.ts holds the two equal over
-- every input. sb_record_presence writes an agent's new row and its event, for
-- every presence write (server/realtime/record.ts and sb_set_manual).
CREATE OR REPLACE FUNCTION sb_aggregate(manual_status agent_status, manual_reason manual_reason, devices int, idle int,
                                        OUT status agent_status, OUT reason status_reason)
-- PL/pgSQL, not SQL: a SQL function called from sb_set_manual was planned on every call (0.1 ms).
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF devices = 0 THEN
    status := 'offline';
    reason := CASE WHEN manual_status = 'offline' THEN manual_reason::text ELSE 'disconnected' END;
  ELSIF manual_status <> 'available' THEN
    status := manual_status;
    reason := manual_reason::text;
  ELSIF idle = devices THEN
    status := 'away';
    reason := 'idle';
  ELSE
    status := 'available';
    reason := manual_reason::text;
  END IF;
END $$;--> statement-breakpoint
CREATE OR REPLACE FUNCTION sb_record_presence(
  p_agent uuid, p_manual_status agent_status, p_manual_reason manual_reason, p_actor uuid, p_note text,
  p_status agent_status, p_reason status_reason, p_previous agent_status, p_devices int,
  p_status_changed boolean, p_touch_seen boolean, p_channel text, p_payload text)
RETURNS TABLE (event_id bigint, new_version int) LANGUAGE plpgsql AS $$
DECLARE
  v_version int;
  v_since timestamptz;
BEGIN
  UPDATE agent_presence p
     SET manual_status = p_manual_status, manual_reason = p_manual_reason,
         manual_actor_id = p_actor, manual_note = p_note,
         status = p_status, reason = p_reason, devices = p_devices, version = p.version + 1,
         load = (SELECT coalesce(jsonb_object_agg(x.channel, x.n), '{}') FROM
                  (SELECT t.channel, count(*)::int AS n FROM tickets t
                    WHERE t.agent_id = p_agent AND t.state IN ('offered', 'assigned') GROUP BY t.channel) x),
         since = CASE WHEN p_status_changed THEN now() ELSE p.since END,
         last_seen_at = CASE WHEN p_touch_seen THEN now() ELSE p.last_seen_at END
   WHERE p.agent_id = p_agent
  RETURNING p.version, p.since INTO v_version, v_since;
  IF NOT FOUND THEN RETURN; END IF;
  -- The id is provisional (negative) until COMMIT gives the real one (migration 0005).
  INSERT INTO presence_events AS e (agent_id, version, status, previous_status, reason, since, devices, actor_id, note)
  VALUES (p_agent, v_version, p_status, p_previous, p_reason, v_since, p_devices, p_actor, p_note)
  RETURNING e.id INTO event_id;
  IF p_channel IS NOT NULL THEN PERFORM pg_notify(p_channel, p_payload); END IF;
  new_version := v_version;
  RETURN NEXT;
END $$;--> statement-breakpoint
-- One agent's chosen or imposed status, when no device session changes with
-- it: lock, read the devices, apply the rule, record. The device read is a
-- statement of its own after the lock, so it sees what the lock's previous
-- holder committed. Outcomes: 'changed', 'unchanged', 'missing' (no presence
-- row), and 'holds_tickets' (the agent leaves with offers to take back: nothing
-- was written, and the caller makes the change in its longer transaction).
CREATE OR REPLACE FUNCTION sb_set_manual(
  p_agent uuid, p_manual_status agent_status, p_manual_reason manual_reason, p_actor uuid, p_note text,
  p_channel text, p_payload text)
RETURNS TABLE (outcome text, new_status agent_status, new_version int) LANGUAGE plpgsql AS $$
DECLARE
  cur agent_presence%ROWTYPE;
  n_devices int;
  n_idle int;
  nxt record;
BEGIN
  SELECT * INTO cur FROM agent_presence p WHERE p.agent_id = p_agent FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'missing', NULL::agent_status, NULL::int;
    RETURN;
  END IF;
  SELECT count(*)::int, (count(*) FILTER (WHERE s.activity = 'idle'))::int INTO n_devices, n_idle
    FROM device_sessions s WHERE s.agent_id = p_agent AND s.ended_at IS NULL;
  SELECT * INTO nxt FROM sb_aggregate(p_manual_status, p_manual_reason, n_devices, n_idle);
  IF nxt.status = cur.status AND nxt.reason = cur.reason AND n_devices = cur.devices
     AND p_manual_status = cur.manual_status AND p_manual_reason = cur.manual_reason
     AND p_actor IS NOT DISTINCT FROM cur.manual_actor_id AND p_note IS NOT DISTINCT FROM cur.manual_note THEN
    RETURN QUERY SELECT 'unchanged', cur.status, cur.version;
    RETURN;
  END IF;
  IF nxt.status <> cur.status AND nxt.status IN ('away', 'offline')
     AND EXISTS (SELECT 1 FROM jsonb_each_text(cur.load) l WHERE l.value::int > 0) THEN
    RETURN QUERY SELECT 'holds_tickets', cur.status, cur.version;
    RETURN;
  END IF;
  SELECT r.new_version INTO new_version
    FROM sb_record_presence(p_agent, p_manual_status, p_manual_reason, p_actor, p_note,
                            nxt.status, nxt.reason, cur.status, n_devices,
                            nxt.status <> cur.status, n_devices > 0 OR cur.devices > 0, p_channel, p_payload) r;
  outcome := 'changed';
  new_status := nxt.status;
  RETURN NEXT;
END $$;

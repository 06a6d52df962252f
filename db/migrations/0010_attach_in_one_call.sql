-- A device attaching (or re-attaching after a reconnect) in one statement
-- (decision 026): lock the agent, upsert the session, apply the status rule
-- and record, as attachSession's transaction of four round trips did
-- (server/presence/store.ts). The count of live devices after the upsert is
-- known before it: a session already live for this client keeps its activity,
-- a new one is active. So every check comes before any write, and the one
-- case it leaves to the longer transaction, 'holds_offers' (the attach turns
-- the agent away while offers are out, which that transaction takes back),
-- writes nothing here. Outcomes: 'changed', 'unchanged', 'missing',
-- 'holds_offers'.
-- Whether a change of devices to `p_status` turns the agent away or offline
-- while offers are out: those are taken back by the longer transaction, so
-- the one-statement paths step aside before writing (shared with 0011).
CREATE OR REPLACE FUNCTION sb_leaves_offers(cur agent_presence, p_status agent_status)
RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN p_status <> cur.status AND p_status IN ('away', 'offline')
     AND EXISTS (SELECT 1 FROM tickets t WHERE t.agent_id = cur.agent_id AND t.state = 'offered');
END $$;--> statement-breakpoint
-- Records an agent's row after its devices changed (the chosen status is
-- kept): its new version, or NULL when nothing shown changed and nothing was
-- written (shared with 0011).
CREATE OR REPLACE FUNCTION sb_record_devices(cur agent_presence, p_status agent_status, p_reason status_reason,
                                             p_devices int, p_channel text, p_payload text)
RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  IF p_status = cur.status AND p_reason = cur.reason AND p_devices = cur.devices THEN RETURN NULL; END IF;
  RETURN (SELECT r.new_version
            FROM sb_record_presence(cur.agent_id, cur.manual_status, cur.manual_reason, cur.manual_actor_id, cur.manual_note,
                                    p_status, p_reason, cur.status, p_devices,
                                    p_status <> cur.status, p_devices > 0 OR cur.devices > 0, p_channel, p_payload) r);
END $$;--> statement-breakpoint
CREATE OR REPLACE FUNCTION sb_attach_session(
  p_agent uuid, p_device text, p_client_session text, p_node uuid, p_label text, p_auth_session text,
  p_channel text, p_payload text)
RETURNS TABLE (outcome text, session_id uuid, generation int, new_status agent_status, new_version int)
LANGUAGE plpgsql AS $$
DECLARE
  cur agent_presence%ROWTYPE;
  n_before int;
  n_idle int;
  already boolean;
  n_devices int;
  nxt record;
  v_id uuid;
  v_generation int;
BEGIN
  SELECT * INTO cur FROM agent_presence p WHERE p.agent_id = p_agent FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'missing', NULL::uuid, NULL::int, NULL::agent_status, NULL::int;
    RETURN;
  END IF;
  -- A statement of its own after the lock: it sees what the lock's previous holder committed.
  SELECT count(*)::int, (count(*) FILTER (WHERE s.activity = 'idle'))::int,
         coalesce(bool_or(s.client_session_id = p_client_session), false)
    INTO n_before, n_idle, already
    FROM device_sessions s WHERE s.agent_id = p_agent AND s.ended_at IS NULL;
  n_devices := n_before + CASE WHEN already THEN 0 ELSE 1 END;
  SELECT * INTO nxt FROM sb_aggregate(cur.manual_status, cur.manual_reason, n_devices, n_idle);
  IF sb_leaves_offers(cur, nxt.status) THEN
    RETURN QUERY SELECT 'holds_offers', NULL::uuid, NULL::int, cur.status, cur.version;
    RETURN;
  END IF;
  INSERT INTO device_sessions AS s (agent_id, device_id, client_session_id, node_id, label, auth_session_id)
  VALUES (p_agent, p_device, p_client_session, p_node, p_label, p_auth_session)
  ON CONFLICT (agent_id, client_session_id) WHERE ended_at IS NULL
  DO UPDATE SET node_id = EXCLUDED.node_id, device_id = EXCLUDED.device_id, label = EXCLUDED.label,
                auth_session_id = EXCLUDED.auth_session_id, generation = s.generation + 1, last_seen_at = now()
  RETURNING s.id, s.generation INTO v_id, v_generation;
  new_version := sb_record_devices(cur, nxt.status, nxt.reason, n_devices, p_channel, p_payload);
  IF new_version IS NULL THEN
    RETURN QUERY SELECT 'unchanged', v_id, v_generation, cur.status, cur.version;
    RETURN;
  END IF;
  outcome := 'changed';
  session_id := v_id;
  generation := v_generation;
  new_status := nxt.status;
  RETURN NEXT;
END $$;

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
  IF nxt.status <> cur.status AND nxt.status IN ('away', 'offline')
     AND EXISTS (SELECT 1 FROM tickets t WHERE t.agent_id = p_agent AND t.state = 'offered') THEN
    RETURN QUERY SELECT 'holds_offers', NULL::uuid, NULL::int, cur.status, cur.version;
    RETURN;
  END IF;
  INSERT INTO device_sessions AS s (agent_id, device_id, client_session_id, node_id, label, auth_session_id)
  VALUES (p_agent, p_device, p_client_session, p_node, p_label, p_auth_session)
  ON CONFLICT (agent_id, client_session_id) WHERE ended_at IS NULL
  DO UPDATE SET node_id = EXCLUDED.node_id, device_id = EXCLUDED.device_id, label = EXCLUDED.label,
                auth_session_id = EXCLUDED.auth_session_id, generation = s.generation + 1, last_seen_at = now()
  RETURNING s.id, s.generation INTO v_id, v_generation;
  IF nxt.status = cur.status AND nxt.reason = cur.reason AND n_devices = cur.devices THEN
    RETURN QUERY SELECT 'unchanged', v_id, v_generation, cur.status, cur.version;
    RETURN;
  END IF;
  SELECT r.new_version INTO new_version
    FROM sb_record_presence(p_agent, cur.manual_status, cur.manual_reason, cur.manual_actor_id, cur.manual_note,
                            nxt.status, nxt.reason, cur.status, n_devices,
                            nxt.status <> cur.status, n_devices > 0 OR cur.devices > 0, p_channel, p_payload) r;
  outcome := 'changed';
  session_id := v_id;
  generation := v_generation;
  new_status := nxt.status;
  RETURN NEXT;
END $$;

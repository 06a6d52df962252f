-- A device session's end in one statement (decision 026, like the attach in
-- 0010): lock the agent, read its live sessions, apply the status rule to what
-- is left, then end the session (if it is still live and, when given, still
-- at that generation: a reload may have re-attached to it) and record.
-- Every check comes before any write; the case left to the longer
-- transaction, 'holds_offers' (the end turns the agent away or offline while
-- offers are out, which that transaction takes back), writes nothing here.
-- Outcomes: 'changed', 'unchanged', 'missing', 'holds_offers'; `ended` says
-- whether the session was ended.
CREATE OR REPLACE FUNCTION sb_end_session(
  p_agent uuid, p_session uuid, p_generation int, p_reason session_end_reason, p_channel text, p_payload text)
RETURNS TABLE (outcome text, ended boolean, new_status agent_status, new_version int)
LANGUAGE plpgsql AS $$
DECLARE
  cur agent_presence%ROWTYPE;
  n_before int;
  n_idle int;
  ending boolean;
  ending_idle boolean;
  n_devices int;
  nxt record;
BEGIN
  SELECT * INTO cur FROM agent_presence p WHERE p.agent_id = p_agent FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'missing', false, NULL::agent_status, NULL::int;
    RETURN;
  END IF;
  -- A statement of its own after the lock: it sees what the lock's previous holder committed.
  SELECT count(*)::int, (count(*) FILTER (WHERE s.activity = 'idle'))::int,
         coalesce(bool_or(s.id = p_session AND (p_generation IS NULL OR s.generation = p_generation)), false),
         coalesce(bool_or(s.id = p_session AND (p_generation IS NULL OR s.generation = p_generation) AND s.activity = 'idle'), false)
    INTO n_before, n_idle, ending, ending_idle
    FROM device_sessions s WHERE s.agent_id = p_agent AND s.ended_at IS NULL;
  n_devices := n_before - CASE WHEN ending THEN 1 ELSE 0 END;
  SELECT * INTO nxt FROM sb_aggregate(cur.manual_status, cur.manual_reason, n_devices,
                                      n_idle - CASE WHEN ending_idle THEN 1 ELSE 0 END);
  IF sb_leaves_offers(cur, nxt.status) THEN
    RETURN QUERY SELECT 'holds_offers', false, cur.status, cur.version;
    RETURN;
  END IF;
  IF ending THEN
    UPDATE device_sessions s SET ended_at = now(), end_reason = p_reason
     WHERE s.id = p_session AND s.agent_id = p_agent AND s.ended_at IS NULL;
  END IF;
  new_version := sb_record_devices(cur, nxt.status, nxt.reason, n_devices, p_channel, p_payload);
  IF new_version IS NULL THEN
    RETURN QUERY SELECT 'unchanged', ending, cur.status, cur.version;
    RETURN;
  END IF;
  outcome := 'changed';
  ended := ending;
  new_status := nxt.status;
  RETURN NEXT;
END $$;

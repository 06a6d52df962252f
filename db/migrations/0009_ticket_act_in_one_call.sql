-- An agent's answer to an offer, or the end of their work on a ticket, in one
-- statement (decision 025): the same locks, checks and writes as the two-trip
-- transaction it replaces (server/routing/store.ts, agentAct), but no lock is
-- held while the transaction waits for a busy Node process to send its next
-- statement. Outcomes: 'done' (with the new state and the queue), 'start_over'
-- (the ticket changed hands between the two locks: run again), 'not_found' (no
-- such ticket offered to or held by this agent), 'wrong_state' (with the
-- ticket's state). Channel names and payloads come from the caller, which
-- defines them once for sender and receiver (server/realtime/channels.ts).
CREATE OR REPLACE FUNCTION sb_ticket_act(
  p_ticket uuid, p_agent uuid, p_action text, p_reason text,
  p_presence_channel text, p_presence_payload text, p_ticket_channel text, p_ticket_payload text)
RETURNS TABLE (outcome text, new_state ticket_state, queue_id uuid) LANGUAGE plpgsql AS $$
DECLARE
  cur agent_presence%ROWTYPE;
  got_agent boolean;
  t tickets%ROWTYPE;
  v_needs ticket_state := CASE WHEN p_action IN ('accept', 'decline') THEN 'offered' ELSE 'assigned' END;
  v_back boolean := p_action IN ('decline', 'release');
  v_next ticket_state := CASE p_action WHEN 'accept' THEN 'assigned' WHEN 'complete' THEN 'completed' ELSE 'queued' END;
  v_version int;
BEGIN
  IF p_action NOT IN ('accept', 'decline', 'complete', 'release') THEN
    RAISE EXCEPTION 'sb_ticket_act: unknown action %', p_action;
  END IF;
  -- The agent row first, then the ticket: the lock order of every routing transaction.
  SELECT * INTO cur FROM agent_presence p
   WHERE p.agent_id = (SELECT k.agent_id FROM tickets k WHERE k.id = p_ticket) FOR UPDATE;
  got_agent := FOUND;
  SELECT * INTO t FROM tickets k WHERE k.id = p_ticket FOR UPDATE;
  IF FOUND AND t.agent_id IS DISTINCT FROM (CASE WHEN got_agent THEN cur.agent_id END) THEN
    -- Re-offered between the two: waiting for the new agent while holding the ticket could
    -- deadlock with that agent's status change (which holds the agent and wants the ticket).
    RETURN QUERY SELECT 'start_over', NULL::ticket_state, NULL::uuid;
    RETURN;
  END IF;
  IF NOT FOUND OR NOT got_agent OR t.agent_id IS DISTINCT FROM p_agent THEN
    RETURN QUERY SELECT 'not_found', NULL::ticket_state, NULL::uuid;
    RETURN;
  END IF;
  IF t.state <> v_needs THEN
    RETURN QUERY SELECT 'wrong_state', t.state, t.queue_id;
    RETURN;
  END IF;
  v_version := t.version + 1;
  UPDATE tickets k
     SET state = v_next,
         agent_id = CASE WHEN v_next = 'assigned' THEN t.agent_id END,
         offer_id = NULL, offer_expires_at = NULL,
         accepted_at = CASE WHEN p_action = 'accept' THEN now() ELSE k.accepted_at END,
         ended_at = CASE WHEN v_next = 'completed' THEN now() ELSE k.ended_at END,
         wait_reason = CASE WHEN p_action = 'decline' THEN 'declined' WHEN p_action = 'release' THEN 'released' ELSE k.wait_reason END,
         passed_by = CASE WHEN v_back THEN array_append(array_remove(k.passed_by, p_agent), p_agent) ELSE k.passed_by END,
         version = v_version
   WHERE k.id = t.id;
  IF p_action IN ('accept', 'decline') THEN
    INSERT INTO agent_routing AS r (agent_id, missed_offers) VALUES (p_agent, 0)
    ON CONFLICT (agent_id) DO UPDATE SET missed_offers = 0;
  END IF;
  -- Accepting keeps the load (an offer already counts); the others free capacity, a roster event.
  -- The presence event goes in before the ticket event, so COMMIT takes the presence lock first.
  IF p_action <> 'accept' THEN
    PERFORM 1 FROM sb_record_presence(p_agent, cur.manual_status, cur.manual_reason, cur.manual_actor_id, cur.manual_note,
                                      cur.status, cur.reason, cur.status, cur.devices, false, false,
                                      p_presence_channel, p_presence_payload);
  END IF;
  INSERT INTO ticket_events (ticket_id, integration_id, type, state, version, agent_id, reason)
  VALUES (t.id, t.integration_id,
          (CASE p_action WHEN 'accept' THEN 'accepted' WHEN 'decline' THEN 'declined'
                         WHEN 'complete' THEN 'completed' ELSE 'released' END)::ticket_event_type,
          v_next, v_version, p_agent, p_reason);
  PERFORM pg_notify(p_ticket_channel, p_ticket_payload);
  RETURN QUERY SELECT 'done', v_next, t.queue_id;
END $$;

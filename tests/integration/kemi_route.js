// KEMI (app_jsdt) version of kamailio.cfg.tpl's request_route, for the
// test of the module's KSR.blf.track() and KSR.blf.handle_subscribe().

function ksr_request_route() {
	if (KSR.maxfwd.process_maxfwd(10) < 0) {
		KSR.sl.sl_send_reply(483, "Too Many Hops");
		return;
	}
	if (KSR.is_CANCEL()) {
		if (KSR.tm.t_check_trans() > 0) {
			KSR.tm.t_relay();
		}
		return;
	}
	if (KSR.is_SUBSCRIBE()) {
		KSR.blf.handle_subscribe();
		return;
	}
	if (KSR.siputils.has_totag() > 0) {
		if (KSR.rr.loose_route() > 0) {
			KSR.tm.t_relay();
			return;
		}
		if (KSR.is_ACK()) {
			if (KSR.tm.t_check_trans() > 0) {
				KSR.tm.t_relay();
			}
			return;
		}
		KSR.sl.sl_send_reply(404, "Not Here");
		return;
	}
	KSR.tm.t_check_trans();
	if (KSR.is_REGISTER()) {
		KSR.registrar.save("location", 0);
		return;
	}
	if (KSR.is_INVITE()) {
		KSR.rr.record_route();
		KSR.dialog.dlg_manage();
		KSR.blf.track();
		if (KSR.registrar.lookup("location") < 0) {
			KSR.tm.t_newtran();
			KSR.tm.t_reply(404, "Not Found");
			return;
		}
		KSR.tm.t_relay();
		return;
	}
	KSR.sl.sl_send_reply(405, "Method Not Allowed");
}

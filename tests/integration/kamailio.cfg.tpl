#!KAMAILIO
#
# Kamailio configuration of the integration tests, rendered by conftest.py:
# every double-braced name is replaced, and the #!define lines of the test go
# in place of the DEFINES one (WITH_BLF, WITH_BLF_TRACK, WITH_AUTH,
# WITH_PRESENCE, WITH_KEMI, WITH_USRLOC, WITH_BLF_PUBLISH, WITH_PRESENCE_XML). A plain registrar
# + stateful proxy on 127.0.0.1; the phones of the tests use it as their
# outbound proxy. With WITH_KEMI the same routing runs as JavaScript
# (kemi_route.js, app_jsdt). WITH_USRLOC (kamproc's default) loads usrloc +
# registrar: REGISTER → save("location"), INVITE → lookup("location");
# without it there is no registrar at all (presence then counts every
# entity as registered, `reg` is refused). WITH_BLF_PUBLISH routes PUBLISH
# to blf_handle_publish() (real presence clients publish their own state).
# WITH_PRESENCE_XML adds stock presence_xml to the stock presence stack
# (harness self-checks only).

{{DEFINES}}

debug={{DEBUG}}
log_stderror=yes
fork=yes
children=4
disable_tcp=yes
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=off
listen=udp:127.0.0.1:{{PORT}}
alias="{{DOMAIN}}"
mpath="{{MPATH}}"

loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
#!ifdef WITH_HDR_AFTER_SUBSCRIBE
loadmodule "xlog.so"
#!endif
#!ifdef WITH_USRLOC
loadmodule "usrloc.so"
loadmodule "registrar.so"
#!endif
loadmodule "dialog.so"
loadmodule "ctl.so"
loadmodule "jsonrpcs.so"
#!ifdef WITH_AUTH
loadmodule "auth.so"
#!endif
#!ifdef WITH_PRESENCE
loadmodule "db_sqlite.so"
loadmodule "presence.so"
loadmodule "presence_dialoginfo.so"
loadmodule "pua.so"
loadmodule "pua_dialoginfo.so"
#!ifdef WITH_PRESENCE_XML
loadmodule "presence_xml.so"
#!endif
#!endif
#!ifdef WITH_BLF
loadmodule "{{BLF_MODULE}}"
#!endif
#!ifdef WITH_KEMI
loadmodule "app_jsdt.so"
modparam("app_jsdt", "load", "{{KEMI_SCRIPT}}")
cfgengine "jsdt"
# no save("location") in the cfg registers the usrloc table: preload it
modparam("usrloc", "preload", "location")
#!endif

modparam("ctl", "binrpc", "unix:{{CTL_SOCKET}}")
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{{RPC_SOCKET}}")
modparam("tm", "fr_timer", {{FR_TIMER}})
modparam("tm", "fr_inv_timer", {{FR_INV_TIMER}})
modparam("tm", "wt_timer", {{WT_TIMER}})
modparam("rr", "append_fromtag", 1)
#!ifdef WITH_USRLOC
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_contacts", 10)
modparam("registrar", "min_expires", 10)
#!endif

#!ifdef WITH_PRESENCE
modparam("presence", "db_url", "sqlite:///{{DB_PATH}}")
modparam("presence", "server_address", "sip:{{DOMAIN}}@127.0.0.1:{{PORT}}")
modparam("presence", "subs_db_mode", 0)
modparam("presence", "publ_cache", 2)
modparam("presence", "min_expires", 0)
modparam("pua", "db_url", "sqlite:///{{DB_PATH}}")
modparam("pua", "db_mode", 0)
modparam("pua", "outbound_proxy", "sip:127.0.0.1:{{PORT}}")
modparam("pua_dialoginfo", "include_callid", 1)
modparam("pua_dialoginfo", "include_tags", 1)
# stock pua_dialoginfo puts <remote> before <local> and a display attribute
# on <target>, which RFC 4235's schema rejects: keep them out
modparam("pua_dialoginfo", "include_localremote", 0)
#!ifdef WITH_PRESENCE_XML
# stock Event: presence (harness self-checks of pidfutil and baresip.py)
modparam("presence_xml", "db_url", "sqlite:///{{DB_PATH}}")
modparam("presence_xml", "force_active", 1)
#!endif
#!endif

#!ifdef WITH_BLF
{{BLF_PARAMS}}
#!endif

#!ifndef WITH_KEMI
request_route {
	if(!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}

	if(is_method("CANCEL")) {
		if(t_check_trans()) {
			t_relay();
		}
		exit;
	}

	# SUBSCRIBE is always for this proxy: initial ones to an entity, in-dialog
	# ones (refresh, Expires: 0) to the Contact it answered with.
	if(is_method("SUBSCRIBE")) {
#!ifdef WITH_BLF
#!ifdef WITH_REPLY_HDR
		append_to_reply("X-Blf-Test: appended\r\n");
#!endif
#!ifdef WITH_FORCE_RPORT
		force_rport();
#!endif
		blf_handle_subscribe();
#!ifdef WITH_HDR_AFTER_SUBSCRIBE
		# the message after blf_handle_subscribe(): still parsed on demand
		xlog("L_NOTICE", "after subscribe: ua=[$hdr(User-Agent)] x=[$hdr(X-After)] event=[$hdr(Event)]\n");
#!endif
#!else
#!ifdef WITH_PRESENCE
		if(!t_newtran()) {
			sl_reply_error();
			exit;
		}
		handle_subscribe();
		t_release();
#!else
		sl_send_reply("489", "Bad Event");
#!endif
#!endif
		exit;
	}

#!ifdef WITH_BLF_PUBLISH
	# RFC 3903 PUBLISH of a presence client's own state, to the blf module
	if(is_method("PUBLISH")) {
		blf_handle_publish();
		exit;
	}
#!endif

#!ifdef WITH_PRESENCE
	if(is_method("PUBLISH")) {
		if(!t_newtran()) {
			sl_reply_error();
			exit;
		}
		handle_publish();
		t_release();
		exit;
	}
#!endif

	if(has_totag()) {
		if(loose_route()) {
			t_relay();
			exit;
		}
		if(is_method("ACK")) {
			if(t_check_trans()) {
				t_relay();
			}
			exit;
		}
		sl_send_reply("404", "Not Here");
		exit;
	}

	# retransmissions of initial requests are absorbed here
	t_check_trans();

	if(is_method("REGISTER")) {
#!ifdef WITH_AUTH
		if(!pv_www_authenticate("$td", "{{AUTH_PASSWORD}}", "0")) {
			www_challenge("$td", "0");
			exit;
		}
		consume_credentials();
#!endif
#!ifdef WITH_USRLOC
		save("location");
#!else
		sl_send_reply("405", "No Registrar Here");
#!endif
		exit;
	}

	if(is_method("INVITE")) {
		record_route();
		dlg_manage();
#!ifdef WITH_BLF_TRACK
		blf_track();
#!endif
#!ifdef WITH_USRLOC
		if(!lookup("location")) {
#!endif
			t_newtran();
			t_reply("404", "Not Found");
			exit;
#!ifdef WITH_USRLOC
		}
#!endif
		t_relay();
		exit;
	}

	if(is_method("OPTIONS")) {
		sl_send_reply("200", "OK");
		exit;
	}
	sl_send_reply("405", "Method Not Allowed");
}
#!endif

#!ifdef WITH_SL_LOCAL_RESPONSE
# test_subscribe_reply.py: sl's replies seen by the script, so sl must
# send every one (the module's reply_direct steps aside)
event_route[sl:local-response] {
	log(0, "sl local response\n");
}
#!endif

/* blf_script.h — cfg wrappers exported by blf_mod.c */
#ifndef BLF_SCRIPT_H
#define BLF_SCRIPT_H

struct sip_msg;
int w_blf_track(struct sip_msg *msg, char *p1, char *p2);
int w_blf_handle_publish(struct sip_msg *msg, char *p1, char *p2);
int w_blf_handle_subscribe(struct sip_msg *msg, char *p1, char *p2);
int w_blf_park_xml(struct sip_msg *msg, char *fmt, char *p2);

#endif

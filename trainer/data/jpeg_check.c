#include "data/jpeg_check.h"

#include <string.h>

/* "text (call at file:line)", or the text alone before any JPEG_CHECK. */
static void format_with_call(JpegCheck *jc, const char *text) {
    if (jc->call) snprintf(jc->message, sizeof jc->message, "%s (%s at %s:%d)", text, jc->call, jc->file, jc->line);
    else snprintf(jc->message, sizeof jc->message, "%s", text);
}

static void error_exit_cb(j_common_ptr cinfo) {
    JpegCheck *jc = (JpegCheck *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    format_with_call(jc, text);
    longjmp(jc->jump, 1);
}

/* level < 0: a corrupt-data warning (libjpeg goes on, padding what is missing). */
static void emit_message_cb(j_common_ptr cinfo, int level) {
    JpegCheck *jc = (JpegCheck *)cinfo->err;
    if (level >= 0 || jc->warnings++ > 0) return;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    format_with_call(jc, text);
}

struct jpeg_error_mgr *jpeg_check_init(JpegCheck *jc) {
    memset(jc, 0, sizeof *jc);
    jpeg_std_error(&jc->pub);
    jc->pub.error_exit = error_exit_cb;
    jc->pub.emit_message = emit_message_cb;
    return &jc->pub;
}

void jpeg_check_raise(JpegCheck *jc, const char *what) {
    format_with_call(jc, what);
    longjmp(jc->jump, 1);
}

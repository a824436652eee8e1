/* JPEG_CHECK: every libjpeg call checked, naming the call, file and line.
 * libjpeg reports an error by calling error_exit, which must not return; a JpegCheck's
 * error_exit formats the message, with the call that JPEG_CHECK last named, and longjmps
 * back to the setjmp of the function that runs the calls. Corrupt-data warnings (a
 * truncated file comes as one) are counted and the first one kept the same way.
 *
 *     JpegCheck jc;
 *     ci.err = jpeg_check_init(&jc);
 *     if (setjmp(jc.jump)) { ...destroy, free...; return err_fail(e, "%s: ...: %s", name, jc.message); }
 *     JPEG_CHECK(&jc, jpeg_create_decompress(&ci));
 */
#ifndef TL_JPEG_CHECK_H
#define TL_JPEG_CHECK_H

#include <setjmp.h>
#include <stdio.h>

#include <jpeglib.h>

typedef struct JpegCheck {
    struct jpeg_error_mgr pub;      /* first member: libjpeg's cinfo->err points here */
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX + 256];   /* "libjpeg's text (call at file:line)" */
    int warnings;                   /* corrupt-data warnings; message holds the first */
    const char *call, *file;        /* the libjpeg call running (set by JPEG_CHECK) */
    int line;
} JpegCheck;

/* Clears jc and returns its error manager, to be set as cinfo.err. */
struct jpeg_error_mgr *jpeg_check_init(JpegCheck *jc);

/* Fails the running call with our own message (a call that reports by its result, such as
 * a short scanline count): formats it like libjpeg's and longjmps to jc->jump. */
void jpeg_check_raise(JpegCheck *jc, const char *what) __attribute__((noreturn));

/* Runs `fn` (any libjpeg call; its value, if any, is the expression's value) after
 * naming it, so that an error raised inside it is reported against it. */
#define JPEG_CHECK(jc, fn) ((jc)->call = #fn, (jc)->file = __FILE__, (jc)->line = __LINE__, (fn))

#endif

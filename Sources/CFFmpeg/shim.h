#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/imgutils.h>
#include <libavutil/display.h>
#include <libavutil/error.h>
#include <libswscale/swscale.h>

// FFmpeg macros that do not import into Swift, as inline functions.
static inline int vip_averror(int e) { return AVERROR(e); }
static inline int vip_averror_eof(void) { return AVERROR_EOF; }
static inline int64_t vip_av_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline AVRational vip_av_time_base_q(void) { return AV_TIME_BASE_Q; }
static inline void vip_av_strerror(int errnum, char *buf, size_t size) { av_strerror(errnum, buf, size); }
// av_log is variadic: silence or restore FFmpeg's own logging from Swift.
static inline void vip_av_log_set_quiet(int quiet) { av_log_set_level(quiet ? AV_LOG_QUIET : AV_LOG_WARNING); }
// Whether a decoded frame is a keyframe (AVFrame.key_frame gave way to a flag in FFmpeg 6.1).
static inline int vip_frame_is_key(const AVFrame *f) {
#ifdef AV_FRAME_FLAG_KEY
    return (f->flags & AV_FRAME_FLAG_KEY) != 0;
#else
    return f->key_frame != 0;
#endif
}

/* tboard — TensorBoard event files of scalar summaries, written without
 * TensorFlow: a TFRecord stream (length, masked CRC-32C of the length, an
 * Event protobuf, masked CRC-32C of the data) of hand-encoded Event messages
 *   Event   { double wall_time = 1; int64 step = 2; string file_version = 3;
 *             Summary summary = 5; }
 *   Summary { repeated Value value = 1; }
 *   Value   { string tag = 1; float simple_value = 2; }
 * The first record carries file_version "brain.Event:2", as TensorBoard
 * expects. Scalars of one step are collected and written as one Event; text
 * summaries (vb_tboard_text) are events of their own. */
#ifndef VB_TBOARD_H
#define VB_TBOARD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct vb_tboard {
    FILE *f;
    unsigned char *buf; /* the pending Summary */
    size_t len, cap;
    int64_t step;
    int failed;         /* a write failed: the writer stops writing */
} vb_tboard;

/* Create dir/events.out.tfevents.<unix seconds>.<host>.<pid> and write the
 * file-version record. 0, or -1 with err. */
int vb_tboard_open(vb_tboard *tb, const char *dir, char *err, size_t err_len);
/* Add one scalar to the event of `step` (a new step flushes the previous one). */
void vb_tboard_scalar(vb_tboard *tb, int64_t step, const char *tag, double value);
/* A text summary (TensorBoard's Text tab; markdown) at `step`, as an event of
 * its own: Value { tag; metadata { plugin_data { plugin_name "text" } };
 * tensor { dtype DT_STRING; tensor_shape {}; string_val } }. */
void vb_tboard_text(vb_tboard *tb, int64_t step, const char *tag, const char *text);
/* Write the pending event and flush the file. 0, or -1 once a write failed. */
int vb_tboard_flush(vb_tboard *tb);
void vb_tboard_close(vb_tboard *tb);

/* The masked CRC-32C of TFRecord framing. */
uint32_t vb_tboard_masked_crc(const void *data, size_t len);

#endif

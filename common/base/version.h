/* version — the product and on-disk/wire format versions. */
#ifndef VB_VERSION_H
#define VB_VERSION_H

#define VB_VERSION "0.1.0"

#endif

#ifndef FY_VERSION_H
#define FY_VERSION_H

#define FY_VERSION "0.1.0"

#endif

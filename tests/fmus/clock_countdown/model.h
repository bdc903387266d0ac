/* When the alarm last went off, so that a repeated update in one event does
 * not count it twice; whether the first countdown was set (initialization
 * runs again as it ends, and must not set it anew). */
typedef struct {
    double alarm_at;
    bool wound;
} ModelState;

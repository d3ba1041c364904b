// hiredis' asynchronous API; the event-loop hooks are driven by our own poller.
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

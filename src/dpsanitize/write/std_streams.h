// Standard descriptors that a parent left closed (`dpsanitize ... <&-`).
//
//   int main() { OpenClosedStandardStreams(); ... }   // before any open()
//
// A closed descriptor 0, 1 or 2 would be handed out by the next open(): the
// output's temporary file became descriptor 0 and was read as the input, or
// descriptor 2 and received the progress meter. So each closed one gets
// /dev/null, and the run refuses `-` for a stream that was closed instead of
// reading nothing from it or writing into nothing.
#ifndef DPSANITIZE_WRITE_STD_STREAMS_H_
#define DPSANITIZE_WRITE_STD_STREAMS_H_

namespace dpsanitize {

// Opens /dev/null on each of descriptors 0, 1 and 2 that is closed, and
// remembers which were.
void OpenClosedStandardStreams();

// True when descriptor `fd` (0, 1 or 2) was closed when the process started
// (as seen by OpenClosedStandardStreams).
bool StandardStreamWasClosed(int fd);

}  // namespace dpsanitize

#endif  // DPSANITIZE_WRITE_STD_STREAMS_H_

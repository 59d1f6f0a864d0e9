// Render: the stage after perturbation. Writes a part's output bytes:
// every gap as it was, every in-vocabulary word as the mechanism's output
// word (with the input word's case pattern unless --case lower), and every
// out-of-vocabulary word by the --oov policy. JSONL lines are copied with
// only their text-field values replaced (as JSON strings), CSV/TSV rows with
// only their --text-column fields replaced (CSV: quoted as the input field
// was, or when the new value needs it); blank lines and the CSV/TSV header
// pass through and skipped bad records are left out.
#ifndef DPSANITIZE_PIPELINE_RENDER_H_
#define DPSANITIZE_PIPELINE_RENDER_H_

#include <string>
#include <string_view>

#include "dpsanitize/pipeline/batch.h"
#include "dpsanitize/pipeline/engine.h"

namespace dpsanitize {

// Replaces part->out with the part's rendered lines and counts perturbed,
// masked, kept and dropped words in the part. Needs part->outs filled.
void Render(const Engine& engine, const Batch& batch, const InputLayout& layout, Part* part);

// Appends `s` to `out` as a JSON string literal (quotes, escapes; UTF-8 as is
// except the line separators U+0085, U+2028 and U+2029, escaped as \uXXXX).
void AppendJsonString(std::string_view s, std::string* out);

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_RENDER_H_

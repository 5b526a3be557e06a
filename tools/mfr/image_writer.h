// Writes a run's chip images: one file per card, <ICCID>.img, mode 0600, in a
// directory of mode 0700 (an image is the card's EEPROM, its Ki_1 and OPc
// included: whoever reads it holds that card; it holds no K1 and no OP, which
// the card's pre-personalization uses and forgets). Format:
// tools/chipsim/chip_image.h.
//
// Images are created with O_EXCL, never over an existing file, and are not
// fsync'ed one by one (that alone would cost ~100,000 fsyncs); the whole run is
// made durable once at its end (syncfs + the directory's fsync). The caller
// writes the manufacturer's output file only after that, so the output file is
// the mark of a complete run (docs/manufacturer.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string_view>

#include "base/status.h"
#include "tools/mfr/batch_plan.h"
#include "tools/mfr/ver_material.h"

namespace simkms::mfr {

std::filesystem::path ImagePath(const std::filesystem::path& dir, std::string_view iccid);

// Makes `dir` ready: created with mode 0700 if absent (its parent must exist);
// if present, it must be a directory that group and others cannot access, and
// none of the run's images may exist yet. Returns whether it created `dir`.
// AlreadyExists naming the first existing image; PermissionDenied for an open
// directory; nothing is changed on error.
StatusOr<bool> PrepareImageDir(const std::filesystem::path& dir, const BatchPlan& plan);

struct ImageRunStats {
  unsigned jobs = 1;
  double wall_seconds = 0;        // the whole call, sync included
  double build_thread_seconds = 0;  // pre-personalization + serialisation, summed over workers
  double write_thread_seconds = 0;  // open/write/close, summed over workers
  double sync_seconds = 0;        // syncfs + directory fsync at the end
};

// Pre-personalizes the run's chips (chip::PrePersonalize: the chip derives its
// own Ki_1) with `jobs` worker threads and writes their images into the
// prepared `dir`. `progress(done)` is called on the calling thread about ten
// times a second and once at the end. On any error the images this call
// created are removed again and the first error is returned. Setting `stop`
// (from a signal handler: SIGINT, SIGTERM) ends the run the same way, with
// FailedPrecondition("interrupted").
StatusOr<ImageRunStats> WriteChipImages(const BatchPlan& plan, const VerMaterial& material,
                                        const std::filesystem::path& dir, unsigned jobs,
                                        const std::function<void(uint64_t done)>& progress,
                                        const std::atomic<bool>& stop);

}  // namespace simkms::mfr

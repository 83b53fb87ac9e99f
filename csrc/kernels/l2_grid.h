// l2_grid.h — how the low-precision GEMMs (simd/gemm_int8.h, amx/lowp_amx.cc) cut C into work units
// so that their weights come from memory once per run of rows instead of once per block of rows.
//
// A unit is a run of rows (whole blocks of `block_rows`) × a block of weight panels small enough to stay
// in L2 (kL2Panels bytes, with everything a panel brings along) while every row block of the run passes
// over it. Runs of rows are split first (only while they keep ≥ 256 rows: each run streams its block of
// panels again), then blocks of panels, until there are ≥ 4 units per thread (a shared machine's late
// threads find work left). Units are numbered run-major: u = run · nblocks + panel block.
//
// Measured on an Emerald Rapids Xeon (bench/README.md): a core streams ~10 GB/s from memory, so a GEMM
// that re-reads its weights for every block of 32 or 64 rows is bound by that, not by its arithmetic.
#pragma once

#include "runtime/parallel.h"

namespace pbc {
namespace {

constexpr long kL2Panels = 768L << 10;

struct L2Grid {
  int mc;       // rows per run (a multiple of the block rows)
  int mruns;    // runs of rows
  int panels;   // weight panels in all
  int nb;       // panels per block
  int nblocks;  // blocks of panels
  long units;   // mruns · nblocks

  int row_begin(long u) const { return static_cast<int>(u / nblocks) * mc; }
  int panel_begin(long u) const { return static_cast<int>(u % nblocks) * nb; }
  int panel_end(long u) const { return panel_begin(u) + nb < panels ? panel_begin(u) + nb : panels; }
};

// M rows in blocks of block_rows; `panels` panels of panel_bytes each (0: no k, one block of all).
inline L2Grid l2_grid(int M, int panels, long panel_bytes, int block_rows) {
  L2Grid gr;
  const int mblocks = (M + block_rows - 1) / block_rows;
  gr.panels = panels;
  gr.nb = panel_bytes > 0 ? static_cast<int>(kL2Panels / panel_bytes) : panels;
  if (gr.nb < 1) gr.nb = 1;
  if (gr.nb > panels) gr.nb = panels;
  gr.mruns = 1;
  const long wanted = 4L * parallel_threads();
  for (;;) {
    gr.nblocks = (panels + gr.nb - 1) / gr.nb;
    if (static_cast<long>(gr.nblocks) * gr.mruns >= wanted) break;
    if (mblocks / (gr.mruns * 2) * block_rows >= 256) {
      gr.mruns *= 2;
    } else if (gr.nb > 1) {
      gr.nb = (gr.nb + 1) / 2;
    } else {
      break;
    }
  }
  gr.nblocks = (panels + gr.nb - 1) / gr.nb;
  gr.mc = (mblocks + gr.mruns - 1) / gr.mruns * block_rows;
  gr.mruns = (M + gr.mc - 1) / gr.mc;
  gr.units = static_cast<long>(gr.nblocks) * gr.mruns;
  return gr;
}

}  // namespace
}  // namespace pbc

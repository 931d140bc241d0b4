// Persistent tile scheduler: each CTA walks work units blockIdx.x,
// blockIdx.x + gridDim.x, ... Tiles are rasterized in groups of `group_m`
// tile-rows so that CTAs running at the same time share A and B panels in L2.
#pragma once

namespace fp8gen {

struct TileCoord {
  int m_block;
  int n_block;
};

struct TileScheduler {
  int tiles_m;
  int tiles_n;
  int group_m;

  __device__ __forceinline__ TileScheduler(int M, int N, int block_m, int block_n, int group)
      : tiles_m((M + block_m - 1) / block_m),
        tiles_n((N + block_n - 1) / block_n),
        group_m(group) {}

  __device__ __forceinline__ int num_tiles() const { return tiles_m * tiles_n; }

  __device__ __forceinline__ TileCoord coord(int linear) const {
    int const tiles_per_group = group_m * tiles_n;
    int const first_m = (linear / tiles_per_group) * group_m;
    int const rows_in_group = min(tiles_m - first_m, group_m);
    int const in_group = linear % tiles_per_group;
    return TileCoord{first_m + in_group % rows_in_group, in_group / rows_in_group};
  }
};

// Split-K: each output tile's K blocks are cut into `splits` ranges of
// `k_blocks_per_split` (the host guarantees none is empty). A work unit is one
// (tile, split) pair; the splits of a tile are consecutive units, so they run
// at the same time and their partial sums meet in L2.
struct WorkUnit {
  TileCoord tile_coord;
  int tile;
  int split;
  int k_block_begin;
  int k_blocks;
};

struct SplitKScheduler {
  TileScheduler tiles;
  int splits;
  int k_blocks_per_split;
  int k_blocks_total;

  __device__ __forceinline__ int num_units() const { return tiles.num_tiles() * splits; }

  __device__ __forceinline__ WorkUnit unit(int linear) const {
    int const tile = linear / splits;
    int const split = linear % splits;
    int const begin = split * k_blocks_per_split;
    return WorkUnit{tiles.coord(tile), tile, split, begin, min(k_blocks_per_split, k_blocks_total - begin)};
  }
};

}  // namespace fp8gen

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

// Work units: one (cluster tile, split) pair each. A cluster tile is ClusterM
// vertically adjacent output tiles, one per CTA of the cluster (they share B
// through TMA multicast); the tile grid is rasterized in cluster tiles.
// Split-K cuts the K blocks of the cluster tiles from `split_first` on into
// `splits` ranges of `k_blocks_per_split` (the host guarantees none is empty);
// the tiles before it are whole units. All tiles split (split_first = 0) when
// the tiles alone leave most SMs idle; only the last, partial wave's tiles
// when whole tiles fill some waves (the idle SMs of that wave share its
// tiles' K). The splits of a tile are consecutive units, so they run at the
// same time and their partial sums meet in L2.
struct WorkUnit {
  TileCoord tile_coord;
  int split_tile;  // split units: this CTA's tile among the split ones (partials and counters)
  int split;
  int k_block_begin;
  int k_blocks;
};

struct WorkScheduler {
  TileScheduler cluster_tiles;
  int splits;
  int split_first;
  int k_blocks_per_split;
  int k_blocks_total;
  int cluster_m;
  int rank;  // of this CTA in its cluster

  __device__ __forceinline__ int num_units() const {
    return split_first + (cluster_tiles.num_tiles() - split_first) * splits;
  }
  // Whether unit `linear` is one split of a tile (asked from the unit index, not kept in WorkUnit: a
  // register live across the mainloop made a per-row x block kernel spill).
  __device__ __forceinline__ bool is_split(int linear) const { return splits > 1 && linear >= split_first; }
  __device__ __forceinline__ int first_unit() const { return blockIdx.x / cluster_m; }
  __device__ __forceinline__ int unit_stride() const { return gridDim.x / cluster_m; }

  __device__ __forceinline__ WorkUnit unit(int linear) const {
    if (linear < split_first) {
      TileCoord const c = cluster_tiles.coord(linear);
      return WorkUnit{TileCoord{c.m_block * cluster_m + rank, c.n_block}, 0, 0, 0, k_blocks_total};
    }
    int const split_tile = (linear - split_first) / splits;
    int const split = (linear - split_first) % splits;
    int const begin = split * k_blocks_per_split;
    TileCoord const c = cluster_tiles.coord(split_first + split_tile);
    return WorkUnit{TileCoord{c.m_block * cluster_m + rank, c.n_block}, split_tile * cluster_m + rank, split, begin,
                    min(k_blocks_per_split, k_blocks_total - begin)};
  }
};

}  // namespace fp8gen

/* LAMMPS pair style "sparseace": linear ACE models exported by sparseace.lammps_plugin.

   Usage:  pair_style sparseace
           pair_coeff * * model.txt El1 El2 ...   (one element name or NULL per atom type)

   The site energy of atom i is Eref[Z_i] + sum_k c_k AA_k + sum_j sum_q w_q P_q(r_ij), with
   AA_k products of atomic-base entries A_a = sum_{j of species s_a} R_{n_a}(r_ij) Y_{lm_a}(rhat_ij)
   evaluated through a DAG (each product = an earlier product times one A entry) and forces by
   its reverse sweep; see sparseace/lammps_plugin/export.py for the file format.
   Units: metal (eV, Angstrom). Requires newton pair on.
*/

#ifndef SPARSEACE_PAIR_SPARSEACE_H
#define SPARSEACE_PAIR_SPARSEACE_H

#include "pair.h"

#include <array>
#include <chrono>
#include <cstddef>
#include <new>
#include <string>
#include <vector>

namespace LAMMPS_NS {

// Agnesi transform x(r) in [-1, 1] for one species pair and one (p, q) choice.
struct SparseACETransform {
  double rin, rcut, scale, p, q, a, y_in, c;
  bool int_exponents;
  void setup(double rin_, double rcut_, double r0, double p_, double q_, double a_);
  static const int MAX_INT_EXPONENT = 8;
  void eval(int n, const double *r, double *x, double *dxdr) const;    // at r[0, n)

 private:
  void y_and_dy(double s, double &y, double &dy) const;
  void y_from_powers(double sqp, double sq1, double sq, double &y, double &dy) const;
};

// A sparse matrix between DAG nodes and atomic-base entries, stored by rows: row r is key[r],
// its entries start[r] : start[r + 1] of (col, coef) (coef may be empty); the rows of centre
// species z are species_ptr[z] : species_ptr[z + 1], sorted by phase, then by their length.
struct SparseACERows {
  std::vector<int> species_ptr{0};
  std::vector<int> key, start{0}, col;
  std::vector<double> coef;
  void add_species(const std::vector<int> &keys, const std::vector<int> &cols,
                   const std::vector<double> &coefs, const std::vector<int> &phase = {});
};

// doubles per vector of the kernels: the widest the target has (AVX-512: 8, else 4)
#ifdef __AVX512F__
constexpr int SPARSEACE_VW = 8;
#else
constexpr int SPARSEACE_VW = 4;
#endif
// centres evaluated together through the product DAG (PairSparseACE::compute), one per lane
// of a vector
constexpr int SPARSEACE_LANES = SPARSEACE_VW;

struct SparseACEModel {
  int nz = 0, n_radial = 0, pair_degree = 0, lmax = 0, num_a = 0;
  std::vector<std::string> elements;
  std::vector<double> eref;
  double rin = 0.0, rcut = 0.0, mb_p = 0.0, mb_q = 0.0, mb_a = 0.0;
  double pair_p = 0.0, pair_q = 0.0, pair_a = 0.0;
  std::vector<double> r0;                                // nz * nz
  std::vector<double> rec_mb, rec_pair;                  // rows of 3
  std::vector<int> degree_lmax;                          // nz * n_radial, -1: no entries
  std::vector<double> pair_weights;                      // nz * nz * pair_degree
  // product DAGs of the centre species, concatenated: as read, nodes of species z and order k
  // (1..4) are order_ptr[5z + k - 1] : order_ptr[5z + k]; parent indices are global (-1 for
  // order 1).  After reading, parent, factor, coef hold the inner nodes only (order 1 and those
  // another node extends), by order, then by parent: species z has inner_ptr[3z] :
  // inner_ptr[3z + 2], order 1 up to inner_ptr[3z + 1].  The adjoint sweep (products()) runs
  // over the other nodes (leaves) and the inner ones by parent:
  //   leaves_by_parent   rows: parent nodes; (col, coef): a leaf's factor and coefficient
  //   inner_by_parent    rows: parent nodes, highest order first; col: its children, which
  //                      are consecutive nodes (forward pass: the rows in reverse)
  std::vector<int> order_ptr, parent, factor;
  std::vector<double> coef;
  std::vector<int> inner_ptr;
  SparseACERows leaves_by_parent, inner_by_parent;
  // derived
  std::vector<SparseACETransform> tr_mb, tr_pair;        // nz * nz
  std::vector<double> pair_coef;                         // pair weights times polynomial norms
  std::vector<int> pair_top;                             // nz * nz: 1 + last nonzero weight's q
  std::vector<double> pair_alpha, pair_beta;             // pair recurrence, padded with zeros
  std::vector<double> h_norm, h_a, h_b;                  // harmonics tables per (l, m >= 0)
  std::vector<int> run_start;  // atomic base run of (species s, degree n): [s*n_radial + n] : [+1]
  // per (neighbour species s, lm) at s * (lmax + 1)^2 + lm: the degrees n with an entry (s, n, lm)
  // and its index, proj_ptr[s * (lmax + 1)^2 + lm] : [+1] of proj_d, proj_v
  std::vector<int> proj_ptr, proj_d, proj_v;

  void read(const std::string &path);    // throws std::runtime_error with file and line
};

// Allocator of storage on 64-byte boundaries: the work arrays' vectors of eight doubles (at
// multiples of eight) each on one cache line.
template <class T> struct SparseACEAligned {
  using value_type = T;
  SparseACEAligned() = default;
  template <class U> SparseACEAligned(const SparseACEAligned<U> &) {}
  T *allocate(std::size_t n) { return static_cast<T *>(::operator new(n * sizeof(T), std::align_val_t(64))); }
  void deallocate(T *p, std::size_t) { ::operator delete(p, std::align_val_t(64)); }
  bool operator==(const SparseACEAligned &) const { return true; }
  bool operator!=(const SparseACEAligned &) const { return false; }
};

class PairSparseACE : public Pair {
 public:
  PairSparseACE(class LAMMPS *);
  ~PairSparseACE() override;
  void compute(int, int) override;
  void settings(int, char **) override;
  void coeff(int, char **) override;
  void init_style() override;
  double init_one(int, int) override;
  double memory_usage() override;

 private:
  SparseACEModel model;
  bool have_model = false;
  std::vector<int> type_species;    // atom type -> model species, -1 for NULL

  // $SPARSEACE_PROFILE=<file>: wall seconds of the phases of compute() (PROFILE_PHASES), summed
  // over the run and written to <file> by the destructor (empty: no timing)
  std::string profile_path;
  std::vector<double> profile_seconds;
  std::chrono::steady_clock::time_point profile_clock;
  void tick(int phase);

  // neighbours per register block of the force projection: NV vectors of VW
  static const int VW = SPARSEACE_VW, BLOCK = 16, NV = BLOCK / VW;
  using Work = std::vector<double, SparseACEAligned<double>>;

  // work arrays of the neighbours of the current centre, neighbour index fastest with stride
  // max_neigh (grown, never shrunk); neighbours of species z are nb_ptr[z] : nb_ptr[z + 1]
  int max_neigh = 0;
  std::vector<int> nb_j, nb_ptr;
  Work rx, ry, rz, ux, uy, uz, dist, inv_r;    // r_ij, unit vector, |r_ij|, 1/|r_ij|
  Work xm, dxm, xp, dxp;           // many-body and pair distance transforms, d/dr
  Work R, dR;                      // radial functions: n_radial rows
  Work pair_e, pair_g;             // pair energy, its r-derivative
  Work Y;                          // harmonics: nlm rows
  Work gb, gu;                     // forces: nlm rows; radial coefficient
  Work w0, w1, w2;                 // forces: angular part
  Work A, gA;                      // atomic base of the current centre, dE/dA

  // Centres are evaluated in batches of LANES of one species: the product DAG of a batch at once,
  // entry k of lane c at LANES k + c of AL (atomic base), gAL (dE/dA), AAL (DAG nodes) and adjL
  // (their adjoint).  Between its atomic base and its forces a centre's arrays (nb_j, nb_ptr and
  // those of swap_lane) wait in lane_arrays, exchanged with the working arrays by swap_lane.
  static const int LANES = SPARSEACE_LANES;
  Work AL, gAL, AAL, adjL;
  std::vector<int> by_species;                 // the local centres, by species
  struct CentreArrays {
    std::vector<int> nb_j, nb_ptr;
    std::array<Work, 11> v;
  };
  CentreArrays lane_arrays[LANES];
  void swap_lane(int lane);
  double centre_base(int i, int zi);
  void products(int zi, double *e_lane);
  void centre_forces(int i, double e);

  std::vector<Work *> neighbour_arrays();
  std::vector<Work *> kept_arrays();
  void allocate();
  void grow(int nneigh);
  void radial(int n);
  void pair_terms(int p0, int p1, const double *c, int K, double r0);
  void harmonics(int n);
  void harmonics_gradient(int n);
};

}    // namespace LAMMPS_NS

#endif

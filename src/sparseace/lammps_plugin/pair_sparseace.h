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

#include <string>
#include <vector>

namespace LAMMPS_NS {

// Agnesi transform x(r) in [-1, 1] for one species pair and one (p, q) choice.
struct SparseACETransform {
  double rin, rcut, scale, p, q, a, y_in, c;
  bool int_exponents;
  void setup(double rin_, double rcut_, double r0, double p_, double q_, double a_);
  void eval(double r, double &x, double &dxdr) const;

 private:
  void y_and_dy(double s, double &y, double &dy) const;
};

// The leaves of the product DAGs (nodes no other node extends) as a sparse matrix between their
// parents (inner nodes) and their factors (atomic-base entries), grouped by one of the two.
struct SparseACELeafGroups {
  std::vector<int> species_ptr{0};    // groups of centre species z: species_ptr[z] : [z + 1]
  std::vector<int> key, start{0};     // group g: its parent or factor, leaves start[g] : [g + 1]
  std::vector<int> other;             // per leaf: the factor or the parent
  std::vector<double> coef;
  void add_species(const std::vector<int> &keys, const std::vector<int> &others,
                   const std::vector<double> &coefs);
};

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
  // order 1).  After reading, parent, factor, coef hold the inner nodes only (those another
  // node extends, and order 1): species z has inner_ptr[3z] : inner_ptr[3z + 2], order 1 up to
  // inner_ptr[3z + 1]; the leaves are in by_parent and by_factor.
  std::vector<int> order_ptr, parent, factor;
  std::vector<double> coef;
  std::vector<int> inner_ptr;
  SparseACELeafGroups by_parent, by_factor;
  // derived
  std::vector<SparseACETransform> tr_mb, tr_pair;        // nz * nz
  std::vector<double> pair_coef;                         // pair weights times polynomial norms
  std::vector<double> pair_alpha, pair_beta;             // pair recurrence, padded with zeros
  std::vector<double> h_norm, h_a, h_b;                  // harmonics tables per (l, m >= 0)
  std::vector<int> run_start;  // atomic base run of (species s, degree n): [s*n_radial + n] : [+1]

  void read(const std::string &path);    // throws std::runtime_error with file and line
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

  // per-neighbour work buffers of the current centre (grown, never shrunk)
  int max_neigh = 0, h_size = 0;
  std::vector<int> nb_j, nb_z;
  std::vector<double> nb_r, nb_u, nb_inv;    // rij (3), unit vector (3), 1 / |rij|
  std::vector<double> R, dR, Y, H;           // per neighbour: n_radial, n_radial, nlm, h_size
  std::vector<double> pair_e, pair_g;        // per neighbour: pair energy, its r-derivative
  std::vector<double> A, gA, AA, adj;        // atomic base, its adjoint; DAG nodes, their adjoint
  std::vector<double> lm_a, lm_b;            // per lm: sum_n dE/dA_nlm dR_n, sum_n dE/dA_nlm R_n

  void allocate();
  void grow(int nneigh);
  void radial(const SparseACETransform &t, double r, double *out, double *dout) const;
  void pair_sum(const SparseACETransform &t, const double *c, double r, double r0, double &value,
                double &deriv) const;
  void harmonics(const double *u, double *Yo, double *Ho) const;
  void harmonics_gradient(const double *u, double inv_r, const double *gb, const double *Ho,
                          double *gt) const;
};

}    // namespace LAMMPS_NS

#endif

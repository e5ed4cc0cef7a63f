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

struct SparseACEModel {
  int nz = 0, n_radial = 0, pair_degree = 0, lmax = 0, num_a = 0;
  std::vector<std::string> elements;
  std::vector<double> eref;
  double rin = 0.0, rcut = 0.0, mb_p = 0.0, mb_q = 0.0, mb_a = 0.0;
  double pair_p = 0.0, pair_q = 0.0, pair_a = 0.0;
  std::vector<double> r0;                                // nz * nz
  std::vector<double> rec_mb, rec_pair;                  // rows of 3
  std::vector<int> radial_count;                         // nz * (lmax + 1)
  std::vector<double> pair_weights;                      // nz * nz * pair_degree
  // product DAGs of the centre species, concatenated: nodes of species z and order k (1..4) are
  // order_ptr[5z + k - 1] : order_ptr[5z + k]; parent indices are global (-1 for order 1)
  std::vector<int> order_ptr, parent, factor;
  std::vector<double> coef;
  // derived
  std::vector<SparseACETransform> tr_mb, tr_pair;        // nz * nz
  std::vector<int> run_start;  // atomic base run of (species s, lm): run_start[s*nlm + lm] : [+1]

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
  int max_neigh = 0;
  std::vector<int> nb_j, nb_z;
  std::vector<double> nb_r, nb_u;            // rij (3), unit vector (3)
  std::vector<double> R, dR, P, dP, Y, dY;  // per neighbour: n_radial, pair_degree, nlm, nlm*3
  std::vector<double> A, gA, AA, adj;        // atomic base, its adjoint; DAG nodes, their adjoint
  // harmonics work arrays and tables
  std::vector<double> hC, hS, hdC, hdS, hq, hdq, hN, ha, hb;

  void allocate();
  void grow(int nneigh);
  void radial(const SparseACETransform &t, const double *rec, int nfun, bool poly_envelope,
              double r, double r0, double *out, double *dout) const;
  void harmonics(const double *u, double inv_r, double *Yo, double *dYo);
};

}    // namespace LAMMPS_NS

#endif

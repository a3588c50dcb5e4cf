// asr/mapping/golden_fixtures.h: the worked examples of the Site Recovery
// documents (network mapping and storage mapping pages, organisation with
// sites in New York and Chicago), rebuilt as inventory snapshots for golden
// tests.
//
//   FabricSnapshot s = NewYorkChicagoNetworks(TargetCloudsPerDocument::kAvailabilityTable);
//   auto index = FabricIndex::Build(std::move(s));
//
// Thread safety: plain functions returning fresh values.
#ifndef ASR_MAPPING_GOLDEN_FIXTURES_H_
#define ASR_MAPPING_GOLDEN_FIXTURES_H_

#include "asr/mapping/fabric_index.h"

namespace asr::mapping::golden {

// The documents disagree with themselves about GoldCloud2: the cloud table
// associates only LogicalNetwork1-NewYork and LogicalNetwork1-Chicago with it,
// yet the target-network table offers VMNetwork2-Chicago (on
// LogicalNetwork2Chicago) to the Gold pairing. Under the availability rule
// that row holds only if GoldCloud2 also has LogicalNetwork2Chicago.
enum class TargetCloudsPerDocument {
  // GoldCloud2 also has LogicalNetwork2Chicago: reproduces the target-network
  // table row for row.
  kAvailabilityTable,
  // Exactly the cloud table: VMNetwork2-Chicago is offered to no pairing.
  kCloudTable,
};

// Ids used by the network example.
inline constexpr char kServerNewYork[] = "vmm-newyork";
inline constexpr char kServerChicago[] = "vmm-chicago";
inline constexpr char kVmNetwork1NewYork[] = "vmnet1-newyork";
inline constexpr char kVmNetwork2NewYork[] = "vmnet2-newyork";
inline constexpr char kVmNetwork1Chicago[] = "vmnet1-chicago";
inline constexpr char kVmNetwork2Chicago[] = "vmnet2-chicago";
inline constexpr char kGoldPairing[] = "pair-gold";
inline constexpr char kSilverPairing[] = "pair-silver";
inline constexpr char kMapping1[] = "netmap-vmnet1-newyork";

// VMNetwork1-NewYork <-> VMNetwork1-Chicago mapped; VMNetwork2-* unmapped.
// Clouds GoldCloud1 -> GoldCloud2, SilverCloud1 -> SilverCloud2.
// VMNetwork1-NewYork has subnets [Subnet1, Subnet2, Subnet3];
// VMNetwork1-Chicago has [Backend, Subnet1, Subnet2] (no Subnet3).
// VM1 (GoldCloud1) has NIC vm1-nic0 on VMNetwork1-NewYork/Subnet1 and is
// protected; VM7 (SilverCloud1) has vm7-nic0 on Subnet3 of the same network
// and vm7-nic1 on VMNetwork2-NewYork. Hosts chicago-h1 (Gold) and
// chicago-h2, chicago-h3 (Silver) are in the Chicago clouds.
FabricSnapshot NewYorkChicagoNetworks(TargetCloudsPerDocument variant);

// Ids used by the storage example.
inline constexpr char kTargetHost[] = "target-h1";
inline constexpr char kTargetHostDefaultPath[] = "D:\\Hyper-V\\Replica";

// GOLD -> GOLD_TARGET, SILVER -> SILVER_TARGET, BRONZE -> BRONZE_TARGET.
// New York: GOLD {C:\ClusterStorage\SourceVolume1, \\FileServer\SourceShare1},
// SILVER {SourceVolume2, SourceShare2}, BRONZE {SourceShare3}; SourceVolume3
// is unclassified. Chicago: GOLD_TARGET {TargetVolume1 (2 TiB free),
// TargetShare1 (1 TiB free)}, SILVER_TARGET {TargetVolume2 (500 GiB),
// TargetShare2 (800 GiB)}, BRONZE_TARGET {TargetShare3 (300 GiB)}.
// VM1..VM5 as in the documents' table (VM1 on SourceVolume1, VM2 on
// SourceShare1, VM3 on SourceVolume2, VM4 on SourceShare2, VM5 on
// SourceVolume3) plus VM6 on SourceShare3; each has one 100 GiB disk.
// Host target-h1 in TargetCloud reaches all target storage; its default
// location D:\Hyper-V\Replica has 4 TiB free.
FabricSnapshot GoldSilverBronzeStorage();

inline constexpr uint64_t kGiB = uint64_t{1} << 30;

}  // namespace asr::mapping::golden

#endif  // ASR_MAPPING_GOLDEN_FIXTURES_H_

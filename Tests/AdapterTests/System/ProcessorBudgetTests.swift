// What `threads: 0` counts: the affinity mask and the cgroup quota, as the kernel writes them.
import Adapters
import Testing

struct ProcessorBudgetTests {
    @Test(arguments: [("0", 1), ("0-1", 2), ("0-3,8,10-11", 7), ("5", 1), ("0,2", 2)] as [(String, Int)])
    func countsAKernelCPUList(_ list: String, _ expected: Int) {
        #expect(ProcessorBudget.cpuListCount(list) == expected)
    }

    @Test(arguments: ["", "a", "3-1", "1-", "-1", "0-1-2", ","])
    func refusesWhatIsNoCPUList(_ list: String) {
        #expect(ProcessorBudget.cpuListCount(list) == nil)
    }

    @Test(arguments: [("max 100000\n", nil), ("100000 100000\n", 1), ("150000 100000", 2), ("50000 100000", 1),
                      ("400000 100000\n", 4), ("garbage", nil), ("0 100000", nil)] as [(String, Int?)])
    func roundsACgroupQuotaUp(_ cpuMax: String, _ expected: Int?) {
        #expect(ProcessorBudget.quotaCores(cpuMax: cpuMax) == expected)
    }

    @Test func theBudgetOfThisProcessIsAtLeastOneCore() {
        #expect(ProcessorBudget.cores >= 1)
    }
}

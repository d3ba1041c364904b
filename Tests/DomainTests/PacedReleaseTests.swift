// A paced drain's schedule: evenly spread, all done at the last tick, never backwards.
import Domain
import Testing

@Suite struct PacedReleaseTests {
    @Test func fewerItemsThanTicksSpreadOverTheWholeSpan() {
        let pace = PacedRelease(total: 40, ticks: 200)
        #expect(pace.due(afterTick: 4) == 0)
        #expect(pace.due(afterTick: 5) == 1)
        #expect(pace.due(afterTick: 100) == 20)
        #expect(pace.due(afterTick: 199) == 39)
        #expect(pace.due(afterTick: 200) == 40)
    }

    @Test func moreItemsThanTicksGoInEqualSlices() {
        let pace = PacedRelease(total: 10_000, ticks: 200)
        let slices = (1...200).map { pace.due(afterTick: $0) - pace.due(afterTick: $0 - 1) }
        #expect(Set(slices) == [50])
    }

    @Test func theScheduleNeverGoesBackAndEndsComplete() {
        for (total, ticks) in [(0, 5), (1, 1), (7, 3), (3, 7), (1000, 1), (999, 200)] {
            let pace = PacedRelease(total: total, ticks: ticks)
            let due = (0...ticks + 2).map { pace.due(afterTick: $0) }
            #expect(due == due.sorted() && due.first == 0 && due.last == total, "\(total) over \(ticks)")
        }
    }
}

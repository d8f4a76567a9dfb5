package devicerules

import "errors"

// errBadProgram is what run returns for a program it cannot follow.
var errBadProgram = errors.New("bad device program")

// run interprets p for one device access, with the subset of eBPF that
// Program emits: what the kernel would answer. Tests use it to hold the
// program to the model.
func run(p []Instruction, typ int, major, minor int64, access int) (int64, error) {
	var reg [11]int64
	ctx := [3]uint32{uint32(access)<<16 | uint32(typ), uint32(major), uint32(minor)}
	for pc := 0; pc < len(p); pc++ {
		in := p[pc]
		if in.Dst > 10 || in.Src > 10 {
			return 0, errBadProgram
		}
		switch in.Op {
		case opLoadWord:
			if in.Src != 1 || in.Off%4 != 0 || in.Off < 0 || in.Off > 8 {
				return 0, errBadProgram
			}
			reg[in.Dst] = int64(ctx[in.Off/4])
		case opAndImm:
			reg[in.Dst] &= int64(in.Imm)
		case opRshImm:
			reg[in.Dst] = int64(uint64(reg[in.Dst]) >> uint(in.Imm))
		case opMovImm:
			reg[in.Dst] = int64(in.Imm)
		case opMovReg:
			reg[in.Dst] = reg[in.Src]
		case opJumpEqImm:
			if reg[in.Dst] == int64(in.Imm) {
				pc += int(in.Off)
			}
		case opJumpNeImm:
			if reg[in.Dst] != int64(in.Imm) {
				pc += int(in.Off)
			}
		case opExit:
			return reg[regVerdict], nil
		default:
			return 0, errBadProgram
		}
	}
	return 0, errBadProgram
}
